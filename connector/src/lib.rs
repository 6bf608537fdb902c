//! SMPP 3.4 connector library.

pub mod codec;
pub mod receipt;
pub mod text;
pub mod dispatch;
pub mod events;
pub mod jetstream;
pub mod session;

#[cfg(test)]
mod schema_check;
#[cfg(test)]
mod test_support;
