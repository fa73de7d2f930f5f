//! Tailor Reverb plugin crate; the nice-plug plugin arrives with its issue.
