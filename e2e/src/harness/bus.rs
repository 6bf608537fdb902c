//! NATS access for one test's operator: commands in, events out.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::Value;

use super::env::eventually;

/// NATS access for one test's operator: publishing commands, collecting its events.
pub struct Bus {
    /// The operator.
    pub operator: String,
    /// Core client.
    pub client: async_nats::Client,
    /// JetStream context.
    pub js: jetstream::Context,
    dlr: std::pin::Pin<Box<dyn futures::Stream<Item = bytes::Bytes> + Send>>,
    health: async_nats::Subscriber,
    /// Delivery events of this operator seen so far.
    pub dlr_events: Vec<Value>,
    /// Health events of this operator seen so far.
    pub health_events: Vec<Value>,
    dispatch_stream: String,
}

impl Bus {
    /// Connects to `nats_url`, makes sure the streams exist and subscribes to the events.
    pub async fn connect(nats_url: &str, operator: &str) -> Self {
        let client = match async_nats::connect(nats_url).await {
            Ok(c) => c,
            Err(e) => panic!("NATS at {nats_url}: {e}"),
        };
        let js = jetstream::new(client.clone());
        let stream =
            connector::pipeline::jetstream::ensure_dispatch_stream(&js, "SMPP_DISPATCH").await;
        if let Err(e) = stream {
            panic!("dispatch stream: {e}");
        }
        // What dlr-processor sees: the events stream (de-duplicated by `Nats-Msg-Id`).
        let stream_name = connector::pipeline::jetstream::ensure_event_stream(
            &js,
            "sms.dlr.inbound",
            connector::pipeline::jetstream::DLR_STREAM,
            connector::pipeline::jetstream::DLR_DUPLICATE_WINDOW,
        )
        .await
        .unwrap_or_else(|e| panic!("events stream: {e}"));
        let consumer = js
            .get_stream(&stream_name)
            .await
            .unwrap_or_else(|e| panic!("events stream: {e}"))
            .create_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: "sms.dlr.inbound".into(),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("events consumer: {e}"));
        let messages = consumer
            .messages()
            .await
            .unwrap_or_else(|e| panic!("events consumer: {e}"));
        let dlr =
            Box::pin(messages.filter_map(|m| async move { m.ok().map(|m| m.payload.clone()) }));
        let health = match client.subscribe("operator.health").await {
            Ok(s) => s,
            Err(e) => panic!("subscribe: {e}"),
        };
        let _ = client.flush().await;
        Self {
            operator: operator.to_string(),
            client,
            js,
            dlr,
            health,
            dlr_events: Vec::new(),
            health_events: Vec::new(),
            dispatch_stream: "SMPP_DISPATCH".into(),
        }
    }

    /// The subject of this operator's commands.
    pub fn subject(&self) -> String {
        format!("smpp.operator.{}", self.operator)
    }

    /// Publishes raw bytes to `subject` in JetStream with `Nats-Msg-Id`, awaiting the ack.
    pub async fn publish_raw(&self, subject: &str, msg_id: &str, body: Vec<u8>) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", msg_id);
        let ack = self
            .js
            .publish_with_headers(subject.to_string(), headers, body.into())
            .await;
        match ack {
            Ok(f) => {
                if let Err(e) = f.await {
                    panic!("publish ack: {e}");
                }
            }
            Err(e) => panic!("publish: {e}"),
        }
    }

    /// Publishes a command (its `messageId` as `Nats-Msg-Id`) to this operator's subject.
    pub async fn publish(&self, command: &Value) {
        let id = command["messageId"]
            .as_str()
            .map_or_else(|| format!("x-{}", rand::random::<u64>()), str::to_string);
        let body = serde_json::to_vec(command).unwrap_or_default();
        self.publish_raw(&self.subject(), &id, body).await;
    }

    /// Publishes many commands with at most 256 acknowledgements outstanding.
    pub async fn publish_many(&self, commands: &[Value]) {
        let mut publisher = crate::loadgen::PipelinedPublisher::new(self.js.clone(), 256);
        for c in commands {
            let id = c["messageId"].as_str().unwrap_or_default();
            let body = serde_json::to_vec(c).unwrap_or_default();
            if let Err(e) = publisher.publish(self.subject(), id, body).await {
                panic!("publish: {e}");
            }
        }
        if let Err(e) = publisher.finish().await {
            panic!("publish ack: {e}");
        }
    }

    fn drain(&mut self) {
        use futures::FutureExt;
        while let Some(Some(m)) = self.dlr.next().now_or_never() {
            self.push_dlr(&m);
        }
        while let Some(Some(m)) = self.health.next().now_or_never() {
            self.push_health(&m.payload);
        }
    }

    fn push_dlr(&mut self, payload: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<Value>(payload) {
            if v["operatorId"] == self.operator.as_str() {
                self.dlr_events.push(v);
            }
        }
    }

    fn push_health(&mut self, payload: &[u8]) {
        if let Ok(v) = serde_json::from_slice::<Value>(payload) {
            if v["operatorId"] == self.operator.as_str() {
                self.health_events.push(v);
            }
        }
    }

    /// Collects events until `done(dlr_events, health_events)` holds or `timeout` passes;
    /// returns whether it held.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[Value], &[Value]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.drain();
            if done(&self.dlr_events, &self.health_events) {
                return true;
            }
            let next = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    m = self.dlr.next() => m.map(|m| (true, m)),
                    m = self.health.next() => m.map(|m| (false, m.payload)),
                }
            })
            .await;
            match next {
                Ok(Some((true, m))) => self.push_dlr(&m),
                Ok(Some((false, m))) => self.push_health(&m),
                Ok(None) | Err(_) => {
                    self.drain();
                    return done(&self.dlr_events, &self.health_events);
                }
            }
        }
    }

    /// Collects events for `quiet` more (to see that nothing else arrives).
    pub async fn settle(&mut self, quiet: Duration) {
        let _ = self.wait_for(quiet, |_, _| false).await;
    }

    /// The delivery events of one message.
    pub fn events_of(&self, message_id: &str) -> Vec<&Value> {
        self.dlr_events
            .iter()
            .filter(|e| e["messageId"] == message_id)
            .collect()
    }

    /// Waits until every id has an event whose `messageStatus` is final (not PENDING) or
    /// a connector REJECTED event.
    pub async fn wait_final(&mut self, ids: &[String], timeout: Duration) -> bool {
        let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
        self.wait_for(timeout, |dlr, _| {
            let done: HashSet<&str> = dlr
                .iter()
                .filter(|e| is_final_event(e))
                .filter_map(|e| e["messageId"].as_str())
                .filter(|id| ids.contains(id))
                .collect();
            done.len() == ids.len()
        })
        .await
    }

    /// The durable consumer's (pending, ack pending) counts, if it exists.
    pub async fn consumer_backlog(&self) -> Option<(u64, usize)> {
        let stream = self.js.get_stream(&self.dispatch_stream).await.ok()?;
        let mut c = stream
            .get_consumer::<jetstream::consumer::pull::Config>(&format!(
                "smpp-connector-{}",
                self.operator
            ))
            .await
            .ok()?;
        let info = c.info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending))
    }

    /// Removes this operator's commands from the dispatch stream and its durable consumer.
    pub async fn cleanup(&self) {
        if let Ok(stream) = self.js.get_stream(&self.dispatch_stream).await {
            let _ = stream
                .delete_consumer(&format!("smpp-connector-{}", self.operator))
                .await;
            let _ = stream.purge().filter(self.subject()).await;
        }
    }
}

/// Whether an event settles its message: a final `messageStatus`, or a connector rejection.
pub fn is_final_event(e: &Value) -> bool {
    let ms = e["messageStatus"].as_str().unwrap_or("PENDING");
    ms != "PENDING" || (e["status"] == "REJECTED" && e["source"] == "connector")
}

/// Waits until the operator's durable consumer has nothing pending or unacknowledged.
pub async fn wait_acked(bus: &Bus, timeout: Duration) -> bool {
    eventually(timeout, || async {
        (bus.consumer_backlog().await == Some((0, 0))).then_some(())
    })
    .await
    .is_some()
}
