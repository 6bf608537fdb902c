//! kube-rs controller for MnoConnection.
