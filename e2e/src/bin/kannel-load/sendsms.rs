//! Kannel's HTTP sendsms interface: one GET per message, many at once.

use futures::StreamExt;
use reqwest::Url;

/// The fixed part of every request.
#[derive(Clone, Debug)]
pub struct Request {
    /// `http://127.0.0.1:13013/cgi-bin/sendsms`.
    pub url: Url,
    /// The sendsms-user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Sender address.
    pub from: String,
    /// smsc-id to route to.
    pub smsc: String,
    /// Text; `{i}` is replaced by the message number.
    pub text: String,
}

impl Request {
    /// The URL of message number `i`, asking for delivery reports to `dlr_url` when given.
    pub fn url_for(&self, i: u64, dlr_url: Option<&str>) -> Url {
        let mut url = self.url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("username", &self.username)
                .append_pair("password", &self.password)
                .append_pair("from", &self.from)
                .append_pair("to", &format!("23324{:07}", i % 10_000_000))
                .append_pair("text", &self.text.replace("{i}", &i.to_string()))
                .append_pair("smsc", &self.smsc);
            if let Some(dlr) = dlr_url {
                q.append_pair("dlr-mask", "3").append_pair("dlr-url", dlr);
            }
        }
        url
    }
}

/// What the HTTP side of the run gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Requests Kannel accepted (HTTP 2xx).
    pub accepted: u64,
    /// Requests refused or failed.
    pub errors: u64,
    /// The first error, to show.
    pub first_error: Option<String>,
}

/// Sends the `urls` with at most `concurrency` requests in flight.
pub async fn send_all(
    client: &reqwest::Client,
    urls: impl Iterator<Item = Url>,
    concurrency: usize,
) -> Outcome {
    let mut results = futures::stream::iter(urls)
        .map(|url| send_one(client, url))
        .buffer_unordered(concurrency.max(1));
    let mut outcome = Outcome::default();
    while let Some(result) = results.next().await {
        match result {
            Ok(()) => outcome.accepted += 1,
            Err(e) => {
                outcome.errors += 1;
                outcome.first_error.get_or_insert(e);
            }
        }
    }
    outcome
}

async fn send_one(client: &reqwest::Client, url: Url) -> Result<(), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}: {}", body.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            url: Url::parse("http://127.0.0.1:13013/cgi-bin/sendsms").unwrap(),
            username: "bench".into(),
            password: "p&ss".into(),
            from: "KANNEL".into(),
            smsc: "sim".into(),
            text: "Hello {i}".into(),
        }
    }

    #[test]
    fn a_request_without_receipts_has_no_dlr_parameters() {
        let url = request().url_for(7, None);
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(q.contains(&("password".into(), "p&ss".into())));
        assert!(q.contains(&("to".into(), "233240000007".into())));
        assert!(q.contains(&("text".into(), "Hello 7".into())));
        assert!(!q.iter().any(|(k, _)| k.starts_with("dlr")));
    }

    #[test]
    fn a_request_with_receipts_asks_for_final_reports_to_the_encoded_url() {
        let dlr = "http://127.0.0.1:9/dlr?n=7&t=%d";
        let url = request().url_for(7, Some(dlr));
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(q.contains(&("dlr-mask".into(), "3".into())));
        assert!(q.contains(&("dlr-url".into(), dlr.into())));
        assert!(url
            .as_str()
            .contains("dlr-url=http%3A%2F%2F127.0.0.1%3A9%2Fdlr%3Fn%3D7%26t%3D%25d"));
    }
}
