//! SMPP 3.4 connector library.

pub mod codec;
pub mod receipt;
pub mod text;
