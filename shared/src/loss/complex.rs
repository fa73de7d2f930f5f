//! Complex tensors as (re, im) pairs of real candle tensors of equal shape and dtype.

use candle_core::{Result, Tensor};

/// A complex tensor stored as two real tensors of the same shape, dtype and device.
#[derive(Debug, Clone)]
pub struct ComplexTensor {
    /// Real part.
    pub re: Tensor,
    /// Imaginary part.
    pub im: Tensor,
}

impl ComplexTensor {
    /// Pairs a real and an imaginary part (shapes must agree).
    pub fn new(re: Tensor, im: Tensor) -> Result<Self> {
        if re.shape() != im.shape() {
            candle_core::bail!(
                "complex tensor: re shape {:?} != im shape {:?}",
                re.shape(),
                im.shape()
            );
        }
        Ok(Self { re, im })
    }

    /// A complex tensor with zero imaginary part.
    pub fn from_real(re: Tensor) -> Result<Self> {
        let im = re.zeros_like()?;
        Ok(Self { re, im })
    }

    /// |z|² = re² + im².
    pub fn abs_sqr(&self) -> Result<Tensor> {
        self.re.sqr()? + self.im.sqr()?
    }

    /// |z| = sqrt(re² + im²) (gradient undefined at 0, as in torch).
    pub fn abs(&self) -> Result<Tensor> {
        self.abs_sqr()?.sqrt()
    }

    /// Complex product.
    pub fn mul(&self, o: &ComplexTensor) -> Result<ComplexTensor> {
        let re = (self.re.mul(&o.re)? - self.im.mul(&o.im)?)?;
        let im = (self.re.mul(&o.im)? + self.im.mul(&o.re)?)?;
        Ok(ComplexTensor { re, im })
    }

    /// Sum.
    pub fn add(&self, o: &ComplexTensor) -> Result<ComplexTensor> {
        Ok(ComplexTensor {
            re: (&self.re + &o.re)?,
            im: (&self.im + &o.im)?,
        })
    }

    /// Difference.
    pub fn sub(&self, o: &ComplexTensor) -> Result<ComplexTensor> {
        Ok(ComplexTensor {
            re: (&self.re - &o.re)?,
            im: (&self.im - &o.im)?,
        })
    }

    /// Complex conjugate.
    pub fn conj(&self) -> Result<ComplexTensor> {
        Ok(ComplexTensor {
            re: self.re.clone(),
            im: self.im.neg()?,
        })
    }
}
