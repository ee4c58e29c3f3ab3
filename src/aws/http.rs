//! The HTTP client of every AWS call: rustls with the platform's roots plus
//! a custom CA bundle, and the proxy for the endpoint's scheme.
//!
//! aws-smithy-http-client's `ProxyConfig` holds one proxy URL, so each
//! service client gets its own HTTP client: its one endpoint's scheme
//! (https for AWS's own) picks `https_proxy` or `http_proxy`. Without
//! explicit proxies, hyper-util's matcher reads HTTP_PROXY, HTTPS_PROXY and
//! NO_PROXY (and the lower-case forms) from the environment; the default
//! client of the SDK would ignore them. With no proxy anywhere the client is
//! the plain one: the proxy-aware connector, matching nothing, still held up
//! the cleanup after a second Ctrl-C past its bound (tests/faults.rs).

use super::{AwsError, Proxy};
use aws_sdk_sts::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls;
use std::path::Path;

/// Reads a PEM bundle, refusing a file with no certificate in it (rustls
/// would otherwise skip it silently and the user see only TLS failures).
pub(super) fn read_bundle(p: &Path) -> Result<Vec<u8>, AwsError> {
    let bytes = std::fs::read(p).map_err(|source| AwsError::CaBundle {
        path: p.display().to_string(),
        source,
    })?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(AwsError::CaBundleEmpty(p.display().to_string()));
    }
    Ok(bytes)
}

/// The proxy for requests to `endpoint` (AWS's https endpoint when none).
/// Settings the block leaves out come from the environment, each from its
/// own variable, as in the AWS provider.
pub(super) fn proxy_for(p: &Proxy, endpoint: Option<&str>) -> Result<ProxyConfig, AwsError> {
    let env = |upper: &str| {
        std::env::var(upper)
            .or_else(|_| std::env::var(upper.to_ascii_lowercase()))
            .ok()
            .filter(|v| !v.is_empty())
    };
    if p.http.is_none() && p.https.is_none() && p.no_proxy.is_none() {
        // No proxy at all: the plain connector, not a proxy-aware one that matches nothing.
        let any = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
            .iter()
            .any(|v| env(v).is_some());
        return Ok(if any {
            ProxyConfig::from_env()
        } else {
            ProxyConfig::disabled()
        });
    }
    let p = &Proxy {
        http: p.http.clone().or_else(|| env("HTTP_PROXY")),
        https: p.https.clone().or_else(|| env("HTTPS_PROXY")),
        no_proxy: p.no_proxy.clone().or_else(|| env("NO_PROXY")),
    };
    let plain = endpoint.is_some_and(|e| e.starts_with("http://"));
    let chosen = if plain { &p.http } else { &p.https };
    let Some(url) = chosen else {
        return Ok(ProxyConfig::disabled());
    };
    let bad = |e: &dyn std::fmt::Display| AwsError::Proxy {
        url: url.clone(),
        message: e.to_string(),
    };
    let config = if plain {
        ProxyConfig::http(url.as_str()).map_err(|e| bad(&e))?
    } else {
        ProxyConfig::https(url.as_str()).map_err(|e| bad(&e))?
    };
    Ok(match &p.no_proxy {
        Some(rules) => config.no_proxy(rules),
        None => config,
    })
}

pub(super) fn client(
    ca: Option<&[u8]>,
    proxy: &Proxy,
    endpoint: Option<&str>,
) -> Result<SharedHttpClient, AwsError> {
    let proxy = proxy_for(proxy, endpoint)?;
    let mut trust = tls::TrustStore::default();
    if let Some(pem) = ca {
        trust = trust.with_pem_certificate(pem.to_vec());
    }
    let context = tls::TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| AwsError::Tls(e.to_string()))?;
    Ok(
        aws_smithy_http_client::Builder::new().build_with_connector_fn(
            move |settings, components| {
                let mut b = aws_smithy_http_client::Connector::builder();
                b.set_connector_settings(settings.cloned());
                if let Some(c) = components {
                    b.set_sleep_impl(c.sleep_impl());
                }
                b.proxy_config(proxy.clone())
                    .tls_provider(tls::Provider::Rustls(
                        tls::rustls_provider::CryptoMode::AwsLc,
                    ))
                    .tls_context(context.clone())
                    .build()
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(http: Option<&str>, https: Option<&str>) -> Proxy {
        Proxy {
            http: http.map(str::to_string),
            https: https.map(str::to_string),
            no_proxy: None,
        }
    }

    #[test]
    fn environment_applies_only_without_explicit_proxies() {
        let none = proxy_for(&Proxy::default(), None).unwrap();
        let env_set = [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|x| !x.is_empty()));
        // Without proxy variables the plain connector, not a proxy-aware one.
        assert_eq!(none.is_from_env(), env_set);
        assert_eq!(none.is_disabled(), !env_set);
        assert!(
            !proxy_for(&p(Some("http://h:1"), None), None)
                .unwrap()
                .is_from_env()
        );
    }

    #[test]
    fn the_endpoint_scheme_picks_the_proxy() {
        let both = p(Some("http://plain:3128"), Some("http://tls:3128"));
        assert!(
            !proxy_for(&both, Some("http://127.0.0.1:5000"))
                .unwrap()
                .is_disabled()
        );
        // Only an http_proxy: AWS's https endpoints connect directly.
        let plain_only = p(Some("http://plain:3128"), None);
        assert!(proxy_for(&plain_only, None).unwrap().is_disabled());
        assert!(
            !proxy_for(&plain_only, Some("http://x"))
                .unwrap()
                .is_disabled()
        );
    }

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "not pem").unwrap();
        assert!(matches!(
            read_bundle(f.path()),
            Err(AwsError::CaBundleEmpty(_))
        ));
        assert!(matches!(
            read_bundle(Path::new("/no/such")),
            Err(AwsError::CaBundle { .. })
        ));
    }
}
