//! "What is my IP": the provider's public address, so the temporary
//! security group admits SSH from exactly there (Packer's
//! `temporary_security_group_source_public_ip`), never from 0.0.0.0/0.

use http_body_util::{BodyExt, Empty, Limited};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Where to ask by default: AWS's own checkip service.
pub const DEFAULT_URL: &str = "https://checkip.amazonaws.com/";

/// GETs `url` and reads an IPv4 address from the body.
pub async fn lookup(url: &str) -> Result<Ipv4Addr, String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!("cannot learn this machine's public IP from {url}: {e}")
    };
    let uri: hyper::Uri = url.parse().map_err(|e| fail(&e))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| fail(&e))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<hyper::body::Bytes>>(https);
    let request = async {
        let resp = client.get(uri).await.map_err(|e| fail(&e))?;
        if !resp.status().is_success() {
            return Err(fail(&resp.status()));
        }
        let body = Limited::new(resp.into_body(), 1024)
            .collect()
            .await
            .map_err(|e| fail(&e))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        text.trim().parse::<Ipv4Addr>().map_err(|_| {
            fail(&format!(
                "the answer {:?} is not an IPv4 address",
                text.trim()
            ))
        })
    };
    tokio::time::timeout(Duration::from_secs(15), request)
        .await
        .map_err(|_| fail(&"no answer within 15s"))?
}
