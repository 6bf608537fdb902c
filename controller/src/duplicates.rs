//! MnoConnections that would share a JetStream consumer: the same operatorId in one namespace,
//! or, in any namespaces, the same operatorId (its dispatch subject) or the same durable
//! consumer name on the same NATS server and dispatch stream. Only the oldest of them may run.

use std::collections::BTreeSet;

use crds::MnoConnection;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::spec_check::Stall;
use crate::url_parts;

/// Reason of the Stalled condition of a newer resource with an operatorId already in use.
pub const DUPLICATE_OPERATOR_ID: &str = "DuplicateOperatorId";
/// Reason of the Stalled condition of a newer resource with a durable name already in use.
pub const DUPLICATE_CONSUMER: &str = "DuplicateConsumer";

const NATS_PORT: u16 = 4222;

/// The NATS servers of `url` (comma-separated), as `host:port` comparable across namespaces:
/// a short host name (`nats`) is the Service of the resource's own namespace (`nats.{ns}`);
/// `.svc` and `.svc.cluster.local` are dropped; the port defaults to 4222; loopback addresses
/// (each pod's own) are left out.
pub fn nats_servers(url: &str, namespace: &str) -> BTreeSet<String> {
    url_parts::servers(url)
        .into_iter()
        .filter(|server| !is_loopback(&server.host))
        .map(|server| {
            let host = server.host.as_str();
            let host = host
                .strip_suffix(".svc.cluster.local")
                .or_else(|| host.strip_suffix(".svc"))
                .unwrap_or(host);
            let host = if host.contains(['.', ':']) {
                host.to_string()
            } else {
                format!("{host}.{namespace}")
            };
            format!("{host}:{}", server.port.unwrap_or(NATS_PORT))
        })
        .collect()
}

/// A loopback address names a different server in every pod.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What identifies the consumer of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumer {
    /// Namespace of the resource.
    pub namespace: String,
    /// `host:port` of the NATS servers.
    pub servers: BTreeSet<String>,
    /// The dispatch stream.
    pub stream: String,
    /// The operator id (filter subject `smpp.operator.{id}`).
    pub operator_id: String,
    /// The durable consumer name.
    pub durable: String,
}

impl Consumer {
    /// The consumer of `mno`.
    pub fn of(mno: &MnoConnection) -> Self {
        let nats = &mno.spec.nats;
        let namespace = mno.namespace().unwrap_or_default();
        Self {
            servers: nats_servers(&nats.url, &namespace),
            namespace,
            stream: nats.dispatch_stream.clone(),
            operator_id: mno.spec.operator_id.clone(),
            durable: nats.durable_name(&mno.spec.operator_id),
        }
    }

    /// The Stalled reason when `self` and `other` would share a consumer (or, in one
    /// namespace, the operator's Redis keys and correlation rows whatever their URLs).
    fn clash(&self, other: &Consumer) -> Option<&'static str> {
        if self.namespace == other.namespace && self.operator_id == other.operator_id {
            return Some(DUPLICATE_OPERATOR_ID);
        }
        if self.stream != other.stream || self.servers.is_disjoint(&other.servers) {
            return None;
        }
        if self.operator_id == other.operator_id {
            Some(DUPLICATE_OPERATOR_ID)
        } else if self.durable == other.durable {
            Some(DUPLICATE_CONSUMER)
        } else {
            None
        }
    }
}

/// The older resource has the smaller key: creation time (none counts as the newest: not yet
/// stored), then namespace, then name.
fn age_key(mno: &MnoConnection) -> (bool, Option<Timestamp>, String, String) {
    let created = mno.creation_timestamp().map(|t| t.0);
    (
        created.is_none(),
        created,
        mno.namespace().unwrap_or_default(),
        mno.name_any(),
    )
}

/// The resources of `others` (not `mno` itself) that would share a consumer with `mno`, older
/// or newer: a change of `mno` may stall or release them.
pub fn clashing<'a>(
    mno: &MnoConnection,
    others: impl IntoIterator<Item = &'a MnoConnection>,
) -> Vec<&'a MnoConnection> {
    let mine = Consumer::of(mno);
    others
        .into_iter()
        .filter(|o| !(o.namespace() == mno.namespace() && o.name_any() == mno.name_any()))
        .filter(|o| mine.clash(&Consumer::of(o)).is_some())
        .collect()
}

/// The Stalled reason of `mno` when an older resource of `others` (not being deleted) would
/// share its consumer; `others` may include `mno` itself.
pub fn check<'a>(
    mno: &MnoConnection,
    others: impl IntoIterator<Item = &'a MnoConnection>,
) -> Option<Stall> {
    let mine = Consumer::of(mno);
    let same =
        |o: &MnoConnection| o.namespace() == mno.namespace() && o.name_any() == mno.name_any();
    let older = others
        .into_iter()
        .filter(|o| {
            !same(o) && o.metadata.deletion_timestamp.is_none() && age_key(o) < age_key(mno)
        })
        .filter_map(|o| mine.clash(&Consumer::of(o)).map(|reason| (reason, o)))
        .min_by_key(|(_, o)| age_key(o))?;
    let (reason, other) = older;
    let what = if reason == DUPLICATE_OPERATOR_ID {
        format!("operatorId {:?}", mine.operator_id)
    } else {
        format!("durable consumer {:?}", mine.durable)
    };
    Some(Stall {
        reason,
        message: format!(
            "{what} is already used by the older MnoConnection {}/{} (same NATS server and \
             stream {:?}): two connectors would share one consumer; this connector is scaled to \
             zero. Delete one of the two, or give this one its own operatorId",
            other.namespace().unwrap_or_default(),
            other.name_any(),
            mine.stream,
        ),
    })
}
