//! SMPP 3.4 and text: PDUs on `bytes`, GSM 7-bit and UCS-2 encoding and splitting, delivery
//! receipts. Nothing here knows sessions, NATS or PostgreSQL.

pub mod codec;
pub mod receipt;
pub mod text;
