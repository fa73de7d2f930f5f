//! Room fitting: turning a measured room IR into an FDN design (grouped FDN for coupled rooms,
//! early-reflection FIR). The analysis it stands on lives in [`crate::analysis`].

pub mod analysis;
pub mod design;
pub mod early;
pub mod grouped;
