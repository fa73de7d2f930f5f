//! Listening tests: loudness-matched A/B and ABX sessions (`tailor ab prepare | run | score`).

pub mod live;
pub mod player;
pub mod prepare;
pub mod score;
pub mod session;
