//! Delivery receipts.
