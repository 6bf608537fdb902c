//! SMPP 3.4 connector library.

pub mod dispatch;

#[cfg(test)]
mod schema_check;
