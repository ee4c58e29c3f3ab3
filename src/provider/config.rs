//! The provider block, with the AWS provider's names and meanings: region,
//! credentials, assumed roles, account guards, default and ignored tags,
//! retries, TLS trust, proxies and endpoints.

use super::accounts::AccountRule;
use super::context::Configured;
use super::duration::Dur;
use super::schema::decode::decode;
use super::schema::{BlockDef, Schema};
use super::tag_policy::TagPolicy;
use crate::aws::{self, AwsSettings, RetryMode, StaticKeys, WebToken};
use crate::define_block;
use crate::ec2::Ec2;
use crate::protocol::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::protocol::value::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where channels live unless `channel_path_prefix` says otherwise.
pub const DEFAULT_CHANNEL_PREFIX: &str = "/golden/channel/";

pub fn schema() -> Schema {
    Schema {
        version: 0,
        block: ProviderBlock::block(),
    }
}

define_block! {
    pub struct ProviderBlock: "Bakes AWS golden images (AMIs) from Terraform, the way Packer's `amazon-ebs` builder does. Configured like the AWS provider: credentials come from this block, else the standard AWS chain (environment, shared config and credentials files, SSO, web identity, container and instance metadata); `assume_role` and `assume_role_with_web_identity` sit on top of them. Credentials are resolved on the first AWS call, not when Terraform starts the provider." {
        pub region: Option<String> => optional("AWS region to bake in. Defaults to the region of the AWS chain (`AWS_REGION`, the profile)."),
        pub profile: Option<String> => optional("Named profile from the shared AWS config and credentials files."),
        pub access_key: Option<String> => optional("AWS access key id; needs `secret_key`. Overrides the AWS chain.").sensitive(),
        pub secret_key: Option<String> => optional("AWS secret access key; needs `access_key`.").sensitive(),
        pub token: Option<String> => optional("Session token of temporary `access_key`/`secret_key` credentials.").sensitive(),
        pub shared_config_files: Vec<String> => optional("Shared config files to read instead of `~/.aws/config`."),
        pub shared_credentials_files: Vec<String> => optional("Shared credentials files to read instead of `~/.aws/credentials`."),
        pub assume_role: Vec<AssumeRoleBlock> => block(),
        pub assume_role_with_web_identity: Option<WebIdentityBlock> => block(),
        pub allowed_account_ids: Vec<String> => optional("Accounts the credentials may belong to; any other fails before anything is made. Checked with STS GetCallerIdentity on the first AWS call. Conflicts with `forbidden_account_ids`.")
            .check(Check::AccountId),
        pub forbidden_account_ids: Vec<String> => optional("Accounts the credentials must not belong to. Checked with STS GetCallerIdentity on the first AWS call. Conflicts with `allowed_account_ids`.")
            .check(Check::AccountId),
        pub default_tags: Option<DefaultTags> => block(),
        pub ignore_tags: Option<IgnoreTags> => block(),
        pub public_ip_url: String => optional("Where to learn this machine's public IPv4 address when the build instance is reached on a public address: the temporary security group admits SSH from that address only.")
            .default(crate::public_ip::DEFAULT_URL)
            .check(Check::HttpUrl),
        pub max_retries: u32 => optional("Attempts per AWS call on throttling, server and connection errors (with exponential backoff and jitter).")
            .default(25)
            .check(Check::Whole { min: 1, max: 100, what: "a whole number" }),
        pub sweep_expired: bool => optional("Remove expired temporary resources at each run: whenever this provider is configured (plan, apply, destroy, import of any configuration, from any machine), it removes, in this account and region, the instances, volumes, key pairs, security groups, unfinished images and snapshots whose `golden:expires-at` tag has passed and that carry `golden:build-id` too: what bakes that were killed left behind. A few EC2 calls per run, in the background, each removal logged; `false` turns it off.")
            .default(true),
        pub retry_mode: RetryMode => optional("How the AWS SDK retries: `standard` backs off exponentially with jitter; `adaptive` also slows this client's own request rate once throttled.")
            .default("standard"),
        pub custom_ca_bundle: Option<String> => optional("PEM file of CA certificates trusted besides the system's, e.g. for a TLS-inspecting proxy or a private endpoint. Can also be set with `AWS_CA_BUNDLE`.")
            .check(Check::LocalFile),
        pub http_proxy: Option<String> => optional("Proxy for `http://` endpoints. Can also be set with `HTTP_PROXY` or `http_proxy`.")
            .check(Check::HttpUrl),
        pub https_proxy: Option<String> => optional("Proxy for `https://` endpoints (all of AWS's own). Can also be set with `HTTPS_PROXY` or `https_proxy`.")
            .check(Check::HttpUrl),
        pub no_proxy: Option<String> => optional("Comma-separated hosts, domains and CIDRs reached without a proxy. Can also be set with `NO_PROXY` or `no_proxy`."),
        pub channel_path_prefix: String => optional("Where `golden_channel` keeps its SSM parameters: a channel `web/prod` is the parameter `<prefix>web/prod`, in each region where its image has a copy. Starts and ends with `/`.")
            .default(DEFAULT_CHANNEL_PREFIX)
            .check(Check::SsmPathPrefix),
        pub endpoints: Endpoints => block().defaults_when_absent(),
    }
}

define_block! {
    pub struct AssumeRoleBlock: "A role to assume with the credentials above (several blocks: a chain, each assumed with the previous one's credentials), e.g. `assume_role { role_arn = \"arn:aws:iam::123456789012:role/baker\" }`." {
        pub role_arn: String => required("ARN of the role, `arn:aws:iam::ACCOUNT:role/NAME`.")
            .check(Check::Arn("role/")),
        pub session_name: Option<String> => optional("Session name (the assumed identity's name in CloudTrail). Defaults to `terraform-provider-golden-` and the time."),
        pub external_id: Option<String> => optional("External id the role's trust policy requires."),
        pub duration: Option<Dur> => optional("How long the assumed credentials last, 15m to 12h (\"1h\"). They are renewed before they expire. Defaults to STS's 1h."),
        pub policy: Option<String> => optional("IAM policy JSON further restricting the session."),
        pub policy_arns: Vec<String> => optional("ARNs of managed policies further restricting the session.")
            .check(Check::Arn("policy/")),
        pub tags: BTreeMap<String, String> => optional("Session tags."),
        pub transitive_tag_keys: Vec<String> => optional("Session tag keys passed on to roles assumed later in a chain."),
        pub source_identity: Option<String> => optional("Source identity recorded for the session."),
    }
}

define_block! {
    pub struct WebIdentityBlock: "A role assumed with an OIDC web identity token (AssumeRoleWithWebIdentity), e.g. from a CI system." {
        pub role_arn: String => required("ARN of the role, `arn:aws:iam::ACCOUNT:role/NAME`.")
            .check(Check::Arn("role/")),
        pub session_name: Option<String> => optional("Session name. Defaults to `terraform-provider-golden-` and the time."),
        pub web_identity_token: Option<String> => optional("The token itself. Conflicts with `web_identity_token_file`.").sensitive(),
        pub web_identity_token_file: Option<String> => optional("File holding the token, read again at each renewal. Conflicts with `web_identity_token`."),
        pub duration: Option<Dur> => optional("How long the credentials last, 15m to 12h. Defaults to STS's 1h."),
    }
}

define_block! {
    pub struct DefaultTags: "Tags on everything the provider makes: the image, its snapshots, and every temporary resource of a bake (instance, volumes, key pair, security group). A resource's own `tags`, `snapshot_tags` and `run_tags` win on the same key. A resource's `tags` show only its own; its computed `tags_all` shows these too, and a change here updates existing images in place. E.g. `default_tags { tags = { team = \"infra\" } }`." {
        pub tags: BTreeMap<String, String> => optional("The tags.").check(Check::NoReservedTagKeys),
    }
}

define_block! {
    pub struct IgnoreTags: "Tags managed outside Terraform: refresh leaves them out of `tags` and `snapshot_tags`, so they never show as drift and an update never removes them. E.g. `ignore_tags { key_prefixes = [\"kubernetes.io/\"] }`." {
        pub keys: Vec<String> => optional("Exact tag keys to ignore."),
        pub key_prefixes: Vec<String> => optional("Tag key prefixes to ignore."),
    }
}

define_block! {
    pub struct Endpoints: "Custom service endpoints: a local emulator, LocalStack or a VPC endpoint." {
        pub ec2: Option<String> => optional("EC2 endpoint URL, e.g. `http://127.0.0.1:5000`.").check(Check::HttpUrl),
        pub sts: Option<String> => optional("STS endpoint URL (assumed roles, account checks).").check(Check::HttpUrl),
        pub ssm: Option<String> => optional("SSM endpoint URL (`golden_channel`'s parameters, in every region).").check(Check::HttpUrl),
        pub kms: Option<String> => optional("KMS endpoint URL.").check(Check::HttpUrl),
    }
}

/// STS's limits on a role session.
const SESSION_MIN: Duration = Duration::from_secs(15 * 60);
const SESSION_MAX: Duration = Duration::from_secs(12 * 3600);

/// Rules that span several settings, with the path of the one to change.
pub fn rules(b: &ProviderBlock) -> Diagnostics {
    let mut d = Diagnostics::default();
    let mut err = |path: AttrPath, summary: &str, detail: String| {
        d.push(Diagnostic::error(summary, detail).at(path));
    };
    if !b.allowed_account_ids.is_empty() && !b.forbidden_account_ids.is_empty() {
        err(
            AttrPath::root("forbidden_account_ids"),
            "Conflicting account guards",
            "Set `allowed_account_ids` or `forbidden_account_ids`, not both.".into(),
        );
    }
    match (&b.access_key, &b.secret_key) {
        (Some(_), None) => err(
            AttrPath::root("secret_key"),
            "Missing secret_key",
            "`access_key` needs `secret_key`.".into(),
        ),
        (None, Some(_)) => err(
            AttrPath::root("access_key"),
            "Missing access_key",
            "`secret_key` needs `access_key`.".into(),
        ),
        _ => {}
    }
    if b.token.is_some() && b.access_key.is_none() {
        err(
            AttrPath::root("token"),
            "Token without keys",
            "`token` belongs to temporary credentials: set `access_key` and `secret_key` with it."
                .into(),
        );
    }
    let mut session = |path: AttrPath, dur: &Option<Dur>| {
        if let Some(Dur(x)) = dur
            && !(SESSION_MIN..=SESSION_MAX).contains(x)
        {
            err(
                path,
                "Invalid duration",
                format!("STS sessions last 15m to 12h; {}s is outside.", x.as_secs()),
            );
        }
    };
    for (i, r) in b.assume_role.iter().enumerate() {
        session(
            AttrPath::root("assume_role").index(i).attr("duration"),
            &r.duration,
        );
    }
    if let Some(w) = &b.assume_role_with_web_identity {
        let at = || AttrPath::root("assume_role_with_web_identity");
        session(at().attr("duration"), &w.duration);
        match (&w.web_identity_token, &w.web_identity_token_file) {
            (Some(_), Some(_)) => err(
                at().attr("web_identity_token_file"),
                "Conflicting web identity tokens",
                "Set `web_identity_token` or `web_identity_token_file`, not both.".into(),
            ),
            (None, None) => err(
                at().attr("web_identity_token"),
                "Missing web identity token",
                "Set `web_identity_token` or `web_identity_token_file`.".into(),
            ),
            _ => {}
        }
    }
    d
}

pub struct ProviderConfig {
    settings: AwsSettings,
    public_ip_url: String,
    channel_path_prefix: String,
    pub sweep_expired: bool,
    accounts: AccountRule,
    tags: TagPolicy,
}

impl ProviderConfig {
    /// The settings, or the diagnostics that say why there are none. Unknown
    /// values (settings that depend on resources not yet created) are
    /// checked once known.
    pub fn from_value(v: &Value) -> (Option<ProviderConfig>, Diagnostics) {
        let mut diags = Diagnostics::default();
        ProviderBlock::block().check(v, None, &mut diags);
        if diags.has_errors() || !v.is_wholly_known() {
            return (None, diags);
        }
        match decode::<ProviderBlock>(v) {
            Ok(b) => {
                diags.extend(rules(&b));
                if diags.has_errors() {
                    return (None, diags);
                }
                (Some(ProviderConfig::from_block(b)), diags)
            }
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Internal error in the golden provider",
                    e.to_string(),
                ));
                (None, diags)
            }
        }
    }

    fn from_block(b: ProviderBlock) -> ProviderConfig {
        let keys = match (b.access_key, b.secret_key) {
            (Some(access_key), Some(secret_key)) => Some(StaticKeys {
                access_key,
                secret_key,
                token: b.token,
            }),
            _ => None,
        };
        let web_identity = b.assume_role_with_web_identity.map(|w| aws::WebIdentity {
            role_arn: w.role_arn,
            session_name: w.session_name,
            token: match (w.web_identity_token, w.web_identity_token_file) {
                (Some(t), _) => WebToken::Inline(t),
                (None, Some(f)) => WebToken::File(PathBuf::from(f)),
                (None, None) => WebToken::None,
            },
            duration: w.duration.map(|d| d.0),
        });
        let assume_role = b
            .assume_role
            .into_iter()
            .map(|r| aws::AssumeRole {
                role_arn: r.role_arn,
                session_name: r.session_name,
                external_id: r.external_id,
                duration: r.duration.map(|d| d.0),
                policy: r.policy,
                policy_arns: r.policy_arns,
                tags: r.tags,
                transitive_tag_keys: r.transitive_tag_keys,
                source_identity: r.source_identity,
            })
            .collect();
        let ignore = b.ignore_tags.unwrap_or(IgnoreTags {
            keys: vec![],
            key_prefixes: vec![],
        });
        ProviderConfig {
            sweep_expired: b.sweep_expired,
            settings: AwsSettings {
                region: b.region,
                profile: b.profile,
                ec2_endpoint: b.endpoints.ec2,
                max_retries: b.max_retries,
                retry_mode: b.retry_mode,
                keys,
                shared_config_files: b
                    .shared_config_files
                    .into_iter()
                    .map(PathBuf::from)
                    .collect(),
                shared_credentials_files: b
                    .shared_credentials_files
                    .into_iter()
                    .map(PathBuf::from)
                    .collect(),
                assume_role,
                web_identity,
                custom_ca_bundle: b
                    .custom_ca_bundle
                    .or_else(|| {
                        std::env::var("AWS_CA_BUNDLE")
                            .ok()
                            .filter(|v| !v.is_empty())
                    })
                    .map(PathBuf::from),
                proxy: aws::Proxy {
                    http: b.http_proxy,
                    https: b.https_proxy,
                    no_proxy: b.no_proxy,
                },
                endpoints: aws::Endpoints {
                    sts: b.endpoints.sts,
                    ssm: b.endpoints.ssm,
                    kms: b.endpoints.kms,
                },
            },
            public_ip_url: b.public_ip_url,
            channel_path_prefix: b.channel_path_prefix,
            accounts: AccountRule {
                allowed: b.allowed_account_ids,
                forbidden: b.forbidden_account_ids,
            },
            tags: TagPolicy {
                defaults: b.default_tags.map(|d| d.tags).unwrap_or_default(),
                ignore_keys: ignore.keys,
                ignore_prefixes: ignore.key_prefixes,
            },
        }
    }

    pub async fn connect(&self) -> Result<Configured, Diagnostic> {
        let fail = |e: aws::AwsError| {
            let d = Diagnostic::error("Cannot set up the AWS client", e.to_string());
            match e {
                aws::AwsError::CaBundle { .. }
                | aws::AwsError::CaBundleEmpty(_)
                | aws::AwsError::Tls(_) => d.at(AttrPath::root("custom_ca_bundle")),
                aws::AwsError::Proxy { .. } => d,
            }
        };
        let shared = aws::load(&self.settings).await.map_err(fail)?;
        let ec2 = Ec2::from_shared(&shared, &self.settings)
            .map_err(fail)?
            .remembering(crate::bake::leftovers::memory_dir());
        let sts = crate::sts::SdkSts::connect(&shared).map_err(fail)?;
        let ssm = crate::ssm::Ssm::from_shared(&shared, self.settings.endpoints.ssm.as_deref())
            .map_err(fail)?;
        if ec2.region.is_empty() {
            return Err(Diagnostic::error(
                "No AWS region",
                "Set `region` in the provider block, or AWS_REGION, or a region in the AWS profile.",
            )
            .at(AttrPath::root("region")));
        }
        Ok(Configured {
            ec2,
            sts: std::sync::Arc::new(sts),
            ssm,
            channel_path_prefix: self.channel_path_prefix.clone(),
            accounts: self.accounts.clone(),
            account_checked: Default::default(),
            tags: self.tags.clone(),
            public_ip_url: self.public_ip_url.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The (path, summary) of each diagnostic for this provider block.
    fn problems(j: serde_json::Value) -> Vec<(String, String)> {
        let v = Value::decode_json(j.to_string().as_bytes()).unwrap();
        ProviderConfig::from_value(&v)
            .1
            .0
            .iter()
            .map(|d| {
                (
                    d.path.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    d.summary.clone(),
                )
            })
            .collect()
    }

    fn one(j: serde_json::Value, path: &str, summary: &str) {
        let p = problems(j.clone());
        assert!(
            p.iter().any(|(at, s)| at == path && s == summary),
            "{j}: wanted {path} {summary:?}, got {p:?}"
        );
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/baker";

    #[test]
    fn a_full_block_is_accepted() {
        let p = problems(json!({
            "region": "eu-west-1",
            "access_key": "AKIA", "secret_key": "s", "token": "t",
            "assume_role": [{ "role_arn": ROLE, "duration": "1h", "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                              "tags": {"a": "b"}, "transitive_tag_keys": ["a"], "source_identity": "me" }],
            "allowed_account_ids": ["111122223333"],
            "default_tags": { "tags": { "team": "infra" } },
            "ignore_tags": { "keys": ["owner"], "key_prefixes": ["kubernetes.io/"] },
            "retry_mode": "adaptive",
            "https_proxy": "http://127.0.0.1:3128", "no_proxy": "localhost",
            "endpoints": { "ec2": "http://127.0.0.1:5000", "sts": "http://127.0.0.1:5000",
                           "ssm": "http://127.0.0.1:5000", "kms": "http://127.0.0.1:5000" },
        }));
        assert_eq!(p, vec![]);
    }

    #[test]
    fn account_guards_conflict_and_take_account_ids() {
        one(
            json!({"allowed_account_ids": ["111122223333"], "forbidden_account_ids": ["444455556666"]}),
            "forbidden_account_ids",
            "Conflicting account guards",
        );
        one(
            json!({"allowed_account_ids": ["1234"]}),
            "allowed_account_ids[0]",
            "Invalid account id",
        );
        one(
            json!({"forbidden_account_ids": ["all"]}),
            "forbidden_account_ids[0]",
            "Invalid account id",
        );
    }

    #[test]
    fn keys_come_in_pairs_and_a_token_needs_them() {
        one(
            json!({"access_key": "AKIA"}),
            "secret_key",
            "Missing secret_key",
        );
        one(
            json!({"secret_key": "s"}),
            "access_key",
            "Missing access_key",
        );
        one(json!({"token": "t"}), "token", "Token without keys");
    }

    #[test]
    fn assume_role_shapes_are_checked_where_they_are() {
        one(
            json!({"assume_role": [{"role_arn": "baker"}]}),
            "assume_role[0].role_arn",
            "Invalid ARN",
        );
        one(
            json!({"assume_role": [{"role_arn": ROLE}, {"role_arn": ROLE, "policy_arns": ["arn:aws:iam::aws:role/x"]}]}),
            "assume_role[1].policy_arns[0]",
            "Invalid ARN",
        );
        one(
            json!({"assume_role": [{"role_arn": ROLE, "duration": "soon"}]}),
            "assume_role[0].duration",
            "Invalid duration",
        );
        one(
            json!({"assume_role": [{"role_arn": ROLE, "duration": "5m"}]}),
            "assume_role[0].duration",
            "Invalid duration",
        );
        one(
            json!({"assume_role": [{"role_arn": ROLE, "duration": "13h"}]}),
            "assume_role[0].duration",
            "Invalid duration",
        );
    }

    #[test]
    fn web_identity_takes_one_token() {
        one(
            json!({"assume_role_with_web_identity": {"role_arn": ROLE, "web_identity_token": "x", "web_identity_token_file": "/t"}}),
            "assume_role_with_web_identity.web_identity_token_file",
            "Conflicting web identity tokens",
        );
        one(
            json!({"assume_role_with_web_identity": {"role_arn": ROLE}}),
            "assume_role_with_web_identity.web_identity_token",
            "Missing web identity token",
        );
        one(
            json!({"assume_role_with_web_identity": {"role_arn": "x", "web_identity_token": "t"}}),
            "assume_role_with_web_identity.role_arn",
            "Invalid ARN",
        );
    }

    #[test]
    fn transport_settings_are_checked() {
        one(
            json!({"retry_mode": "legacy"}),
            "retry_mode",
            "Invalid retry_mode",
        );
        one(
            json!({"https_proxy": "proxy:3128"}),
            "https_proxy",
            "Invalid https_proxy",
        );
        one(
            json!({"custom_ca_bundle": "/no/such/ca.pem"}),
            "custom_ca_bundle",
            "File not found",
        );
        one(
            json!({"endpoints": {"kms": "kms.local"}}),
            "endpoints.kms",
            "Invalid kms",
        );
    }

    #[test]
    fn channel_path_prefix_is_a_path_ssm_accepts() {
        for bad in [
            "golden/",
            "/golden",
            "/golden//x/",
            "/gol den/",
            "/aws/x/",
            "/SSM/",
        ] {
            one(
                json!({ "channel_path_prefix": bad }),
                "channel_path_prefix",
                "Invalid channel_path_prefix",
            );
        }
        for good in ["/", "/golden/channel/", "/team-a/images.v2/"] {
            assert_eq!(problems(json!({ "channel_path_prefix": good })), vec![]);
        }
        let v = Value::decode_json(b"{}").unwrap();
        let c = ProviderConfig::from_value(&v).0.unwrap();
        assert_eq!(c.channel_path_prefix, DEFAULT_CHANNEL_PREFIX);
    }

    #[test]
    fn settings_flow_into_the_shared_aws_settings() {
        let v = Value::decode_json(
            json!({
                "access_key": "AKIA", "secret_key": "s",
                "assume_role": [{"role_arn": ROLE, "duration": "30m"}],
                "assume_role_with_web_identity": {"role_arn": ROLE, "web_identity_token_file": "/t"},
                "endpoints": {"sts": "http://sts", "ssm": "http://ssm", "kms": "http://kms"},
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let c = ProviderConfig::from_value(&v).0.unwrap();
        let s = &c.settings;
        assert_eq!(s.retry_mode, RetryMode::Standard);
        assert_eq!(s.assume_role[0].duration, Some(Duration::from_secs(1800)));
        assert!(matches!(
            s.web_identity.as_ref().map(|w| &w.token),
            Some(WebToken::File(_))
        ));
        assert_eq!(s.endpoints.kms.as_deref(), Some("http://kms"));
        assert_eq!(s.endpoints.ssm.as_deref(), Some("http://ssm"));
        // The secret never reaches a log through Debug.
        let shown = format!("{s:?}");
        assert!(
            shown.contains("AKIA") && !shown.contains("\"s\""),
            "{shown}"
        );
    }

    /// Configuring reads no credentials and calls nothing: `terraform plan`
    /// starts the provider three times.
    #[tokio::test]
    async fn connecting_makes_no_network_call() {
        let v = Value::decode_json(
            json!({
                "region": "us-east-1",
                "assume_role": [{"role_arn": ROLE}],
                "allowed_account_ids": ["111122223333"],
                // Nothing listens here: any call would fail.
                "endpoints": {"ec2": "http://127.0.0.1:9", "sts": "http://127.0.0.1:9"},
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let c = ProviderConfig::from_value(&v).0.unwrap();
        let configured = c.connect().await.expect("connects without the network");
        assert_eq!(configured.ec2.region, "us-east-1");
        assert_eq!(configured.ssm.region, "us-east-1");
        assert_eq!(
            configured
                .ssm_in("eu-west-1")
                .expect("no call either")
                .region,
            "eu-west-1"
        );
        assert!(configured.account_checked.get().is_none());
    }
}
