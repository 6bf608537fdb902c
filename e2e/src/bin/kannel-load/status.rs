//! Kannel's bearerbox status page (`/status.xml`): the count of messages the SMSC acknowledged
//! and the state of the SMSC connection.

use std::time::Duration;

use reqwest::Url;

/// What the load needs from one read of the status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Messages sent to an SMSC and acknowledged by it (`<sms><sent><total>`).
    pub sms_sent: u64,
    /// Every SMSC connection is online.
    pub smscs_online: bool,
}

/// Why the status page cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The page could not be fetched.
    #[error("status page: {0}")]
    Http(String),
    /// The page does not look like Kannel 1.4's status.xml.
    #[error("status page: {0}")]
    Format(&'static str),
}

/// Reads the bearerbox status page.
pub struct StatusPage {
    client: reqwest::Client,
    url: Url,
}

impl StatusPage {
    /// A reader of `url` (`http://127.0.0.1:13000/status.xml`) with the status password.
    pub fn new(client: reqwest::Client, mut url: Url, password: &str) -> Self {
        url.query_pairs_mut().append_pair("password", password);
        StatusPage { client, url }
    }

    /// One read of the page.
    pub async fn read(&self) -> Result<Status, StatusError> {
        let response = self
            .client
            .get(self.url.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| StatusError::Http(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(StatusError::Http(format!("HTTP {}", response.status())));
        }
        let body = response
            .text()
            .await
            .map_err(|e| StatusError::Http(e.without_url().to_string()))?;
        parse(&body)
    }

    /// Waits until every SMSC connection is online, at most `limit`.
    pub async fn wait_online(&self, limit: Duration) -> Result<Status, StatusError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let last = self.read().await;
            match last {
                Ok(s) if s.smscs_online => return Ok(s),
                Ok(_) | Err(StatusError::Http(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(_) => return Err(StatusError::Format("the SMSC connection is not online")),
                Err(e) => return Err(e),
            }
        }
    }
}

/// The text of the first `<tag>...</tag>` element in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

/// Parses Kannel 1.4's status.xml.
pub fn parse(xml: &str) -> Result<Status, StatusError> {
    let gateway = element(xml, "gateway").ok_or(StatusError::Format("no <gateway> element"))?;
    let sms = element(gateway, "sms").ok_or(StatusError::Format("no <sms> element"))?;
    let sent = element(sms, "sent").ok_or(StatusError::Format("no <sms><sent> element"))?;
    let sms_sent = element(sent, "total")
        .and_then(|t| t.trim().parse().ok())
        .ok_or(StatusError::Format("no number in <sms><sent><total>"))?;
    let smscs = element(gateway, "smscs").ok_or(StatusError::Format("no <smscs> element"))?;
    let mut statuses = smscs
        .split("<smsc>")
        .skip(1)
        .filter_map(|s| element(s, "status"));
    let first = statuses.next();
    let smscs_online =
        first.is_some_and(|s| s.starts_with("online")) && statuses.all(|s| s.starts_with("online"));
    Ok(Status {
        sms_sent,
        smscs_online,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<?xml version=\"1.0\"?>\n<gateway>\n\t<version>1.4.5</version>\n\
        <status>running, uptime 0d 0h 0m 9s</status>\n\t<wdp><received><total>0</total></received></wdp>\n\
        <sms>\n\t\t<received><total>3</total><queued>0</queued></received>\n\
        <sent><total>1234</total><queued>5</queued></sent>\n\t\t<storesize>-1</storesize>\n\
        <inbound>0.00,0.00,0.00</inbound><outbound>12.00,1.00,0.10</outbound></sms>\n\
        <dlr><received><total>7</total></received><sent><total>0</total></sent><queued>0</queued></dlr>\n\
        <smscs><count>2</count>\n\
        <smsc><name>SMPP:127.0.0.1:2775/2775:bench:</name><admin-id>sim</admin-id><id>sim</id>\
        <status>online 8s</status><failed>0</failed><queued>0</queued>\
        <sms><received>0</received><sent>9999</sent></sms></smsc>\n\
        <smsc><name>b</name><id>b</id><status>STATUS</status></smsc>\n\
        </smscs>\n</gateway>\n";

    #[test]
    fn reads_the_gateway_sent_total_not_an_smsc_one() {
        let s = parse(&PAGE.replace("STATUS", "online 3s")).unwrap();
        assert_eq!(s.sms_sent, 1234);
        assert!(s.smscs_online);
    }

    #[test]
    fn one_smsc_not_online_means_not_online() {
        let s = parse(&PAGE.replace("STATUS", "connecting")).unwrap();
        assert!(!s.smscs_online);
    }

    #[test]
    fn no_smsc_means_not_online() {
        let page = "<gateway><sms><sent><total>0</total></sent></sms><smscs><count>0</count></smscs></gateway>";
        assert!(!parse(page).unwrap().smscs_online);
    }

    #[test]
    fn a_page_without_counts_is_an_error() {
        assert!(matches!(
            parse("<gateway><sms></sms></gateway>"),
            Err(StatusError::Format(_))
        ));
        assert!(matches!(parse("<html/>"), Err(StatusError::Format(_))));
    }
}
