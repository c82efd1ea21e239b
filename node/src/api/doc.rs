//! The officer API's OpenAPI 3.1 document (docs/openapi.yaml), generated from the code: the
//! request and view types the handlers read and answer with ([`crate::views`],
//! [`crate::compose::SendRequest`], [`crate::case::CaseRequest`]), the query types they parse,
//! and each handler's own declaration of its path, roles and answers. The committed file is
//! checked against it by a test, so the published contract cannot drift from the code;
//! `cli/tests/openapi_contract.rs` runs Schemathesis over it against a real node.

use std::borrow::Cow;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use super::{admin, cases, handlers};

/// The document's root: info, servers, security, tags, every operation, and the answers
/// many operations share.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Liaison local officer API",
        version = "1",
        description = include_str!("openapi.md"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers(
        (url = "http://127.0.0.1:7443", description = "token listener (api.listen)"),
        (url = "https://127.0.0.1:7444", description = "officer-certificate listener (api.tls_listen)"),
    ),
    security(("token" = []), ("officerCertificate" = [])),
    tags(
        (name = "messages", description = "Sending, reading, acknowledging and sharing messages."),
        (name = "cases", description = "Shared cases: opening, invitations, updates, tasks."),
        (name = "node", description = "The node's status, peers, alarms and stored data."),
        (name = "audit", description = "The tamper-evident log, its checkpoints and proofs."),
    ),
    paths(
        handlers::send,
        handlers::inbox,
        handlers::show,
        handlers::ack,
        handlers::consent_request,
        handlers::consent_answer,
        handlers::share,
        handlers::trail,
        cases::list,
        cases::open,
        cases::show,
        cases::act,
        handlers::status,
        handlers::metrics,
        handlers::peers,
        handlers::log,
        handlers::checkpoint,
        handlers::checkpoints,
        handlers::proof,
        handlers::consistency,
        handlers::purge,
        admin::clear_alarms,
        admin::scrub,
        admin::backup,
    ),
    components(
        schemas(CaseActionText),
        responses(
        Malformed,
        Unauthenticated,
        Forbidden,
        NotFound,
        RequestTimeout,
        PayloadTooLarge,
        TooManyAttempts,
        Internal,
        OutboxFull,
        DiskFull,
        ),
    ),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// The document, as the node's code declares it.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as YAML, as committed in docs/openapi.yaml.
#[cfg(test)]
fn yaml() -> String {
    let text = document()
        .to_yaml()
        .expect("the API document is plain data and always serialises");
    format!("# Generated from the node's code (node/src/api/doc.rs); do not edit by hand.\n{text}")
}

/// The two ways to sign in: the bearer token, and an officer certificate.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The content of the node's api.token_file (supervisor role). Plain \
                         listener only.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "officerCertificate",
            SecurityScheme::MutualTls {
                description: Some(
                    "An officer certificate for this node (HTTPS listener only); the role is \
                     the certificate's."
                        .to_owned(),
                ),
                deprecated: None,
                extensions: None,
            },
        );
    }
}

/// A string header, optionally with the one value it always has.
fn header(description: &str, value: Option<&str>) -> utoipa::openapi::header::Header {
    let mut schema = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
    if let Some(v) = value {
        schema = schema.enum_values(Some([v]));
    }
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// A `Retry-After` header: whole seconds, at least 1.
fn retry_after(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(1)),
        ))
        .description(Some(description))
        .build()
}

/// An error answer: `description`, the request id header, `extra` headers, an [`crate::views::ErrorBody`].
fn error(
    description: &str,
    extra: &[(&str, utoipa::openapi::header::Header)],
    example: Option<serde_json::Value>,
) -> RefOr<Response> {
    let request_id = HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .pattern(Some("^[0-9a-f]{32}$")),
        ))
        .description(Some(
            "The request's id (every answer carries one); the node's log lines about the \
             request carry it too.",
        ))
        .build();
    let mut r = ResponseBuilder::new()
        .description(description)
        .header("X-Request-Id", request_id);
    for (name, h) in extra {
        r = r.header(*name, h.clone());
    }
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .example(example)
        .build();
    r.content("application/json", content).build().into()
}

/// Declares a shared error answer, named as in the document's `components/responses`.
macro_rules! shared_error {
    ($(#[$doc:meta])* $ty:ident, |$name:ident| $build:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl<'s> ToResponse<'s> for $ty {
            fn response() -> (&'s str, RefOr<Response>) {
                let $name = stringify!($ty);
                ($name, $build)
            }
        }
    };
}

shared_error!(
    /// 400 `malformed-request`.
    Malformed,
    |_n| error(
        "`malformed-request`: bad JSON, an unknown field, a bad id or query, or a value outside \
         a declared range, enum or pattern.",
        &[],
        None
    )
);

shared_error!(
    /// 401 `unauthenticated`.
    Unauthenticated,
    |_n| error(
        "`unauthenticated`: no or wrong token.",
        &[(
            "WWW-Authenticate",
            header("The scheme to use.", Some("Bearer realm=\"liaison\""))
        )],
        None
    )
);

shared_error!(
    /// 403 `forbidden-role`.
    Forbidden,
    |_n| error("`forbidden-role`: the caller's role may not do this.", &[], None)
);

shared_error!(
    /// 404 `unknown-message`.
    NotFound,
    |_n| error(
        "`unknown-message`: no message with this id is known to this node.",
        &[],
        None
    )
);

shared_error!(
    /// 408 `request-timeout`.
    RequestTimeout,
    |_n| error(
        "`request-timeout`: the body did not arrive within `api.body_timeout_secs` of the \
         headers; the connection is closed.",
        &[("Connection", header("The connection is closed.", Some("close")))],
        None
    )
);

shared_error!(
    /// 413 `payload-too-large`.
    PayloadTooLarge,
    |_n| error(
        "`payload-too-large`: the body is larger than `api.max_body_bytes` (default 2 MiB); \
         refused by its `Content-Length` before it is read, where it has one. The connection \
         is closed.",
        &[("Connection", header("The connection is closed.", Some("close")))],
        Some(serde_json::json!({
            "error": "payload-too-large",
            "detail": "the request body is larger than this node accepts (2097152 bytes, api.max_body_bytes)",
            "request_id": "5f0c2a9e4b7d1e3a0000000000000007"
        }))
    )
);

shared_error!(
    /// 429 `too-many-attempts`.
    TooManyAttempts,
    |_n| error(
        "`too-many-attempts`: too many failed sign-ins from this address (token listener); \
         the request was not checked. Wait `Retry-After` seconds.",
        &[(
            "Retry-After",
            retry_after("Seconds until this address's next attempt is heard.")
        )],
        None
    )
);

shared_error!(
    /// 500 `internal-error`.
    Internal,
    |_n| error(
        "`internal-error`: the node failed. The answer says nothing of the cause; the node's \
         log has it under the request id.",
        &[],
        Some(serde_json::json!({
            "error": "internal-error",
            "detail": "internal error; the node's log has the details under request id 5f0c2a9e4b7d1e3a000000000000002a",
            "request_id": "5f0c2a9e4b7d1e3a000000000000002a"
        }))
    )
);

shared_error!(
    /// 503 `outbox-full`.
    OutboxFull,
    |_n| error(
        "`outbox-full`: too much already waits for a next hop of the message (its outbox is \
         at `outbox.max_messages` or `max_bytes`; for alerts and urgent requests, at those \
         plus `outbox.urgent_headroom_percent`). Nothing was sent; the detail names the \
         peer, what its outbox holds and how old its oldest message is. Try again after \
         `Retry-After` seconds.",
        &[(
            "Retry-After",
            retry_after(
                "Seconds to wait: 1 while the peer is connected and draining, 30 while it is not."
            )
        )],
        Some(serde_json::json!({
            "error": "outbox-full",
            "detail": "outbox to gcc-cic.gulf is full: 1000000 messages (1798000000 bytes), oldest 5400 s; bulk traffic (anything but alerts and urgent requests) to it is refused at 1000000 messages or 4294967296 bytes until it drains (the peer is not connected); nothing was sent, try again in 30 s",
            "request_id": "5f0c2a9e4b7d1e3a0000000000000503"
        }))
    )
);

shared_error!(
    /// 507 `disk-full`.
    DiskFull,
    |_n| error(
        "`disk-full`: the disk holding the data dir is full; nothing was written.",
        &[],
        None
    )
);

/// The actions `POST /v1/cases/{case}/{action}` takes, as a path parameter's schema.
pub struct CaseActionText;

impl PartialSchema for CaseActionText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(cases::ACTIONS))
            .into()
    }
}

impl ToSchema for CaseActionText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CaseAction")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = "../docs/openapi.yaml";

    /// docs/openapi.yaml is what the code generates. `LIAISON_WRITE_OPENAPI=1` rewrites it
    /// after a change to the API.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
        let generated = yaml();
        if std::env::var_os("LIAISON_WRITE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap();
        assert!(
            committed == generated,
            "docs/openapi.yaml differs from the document the code generates; run \
             `LIAISON_WRITE_OPENAPI=1 cargo test -p liaison-node --lib api::doc` and commit it"
        );
    }

    fn json() -> serde_json::Value {
        serde_json::to_value(document()).unwrap()
    }

    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// Doc comments become the document's descriptions: no rustdoc link syntax in them.
    #[test]
    fn descriptions_read_as_text() {
        let text = serde_json::to_string(&document()).unwrap();
        assert!(!text.contains("[`"), "a description holds a rustdoc link");
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc = json();
        let mut found = vec![];
        refs(&doc, &mut found);
        assert!(found.len() > 100, "{}", found.len());
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .expect("only references within the document");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    /// The bounds the document declares are the ones the node enforces.
    #[test]
    fn declared_bounds_are_the_enforced_limits() {
        use liaison_protocol::limits::{
            MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_ENTITIES, MAX_RECIPIENTS, MAX_RELEASE,
            MAX_SHORT_STRING, MAX_TEXT_BYTES,
        };
        let doc = json();
        let at = |p: &str| doc.pointer(p).unwrap_or_else(|| panic!("{p}")).clone();
        let n = |v: usize| serde_json::Value::from(v);
        let schemas = "/components/schemas";
        for req in ["SendRequest", "CaseRequest"] {
            let props = format!("{schemas}/{req}/properties");
            assert_eq!(at(&format!("{props}/text/maxLength")), n(MAX_TEXT_BYTES));
            assert_eq!(at(&format!("{props}/release/maxItems")), n(MAX_RELEASE));
            assert_eq!(at(&format!("{props}/entities/maxItems")), n(MAX_ENTITIES));
            assert_eq!(at(&format!("{props}/to/maxItems")), n(MAX_RECIPIENTS));
        }
        for short in [
            "SendRequest/properties/tlp",
            "SendRequest/properties/eval",
            "SendRequest/properties/lang",
            "CaseRequest/properties/title",
            "CaseRequest/properties/due",
            "AttachmentRequest/properties/name",
            "NodesRequest/properties/reason",
            "ConsentRequestAnswer/properties/reason",
            "ShortText",
        ] {
            assert_eq!(
                at(&format!("{schemas}/{short}/maxLength")),
                n(MAX_SHORT_STRING)
            );
        }
        let case = format!("{schemas}/CaseRequest/properties");
        assert_eq!(at(&format!("{case}/nodes/maxItems")), n(MAX_RECIPIENTS));
        assert_eq!(
            at(&format!("{case}/attachments/maxItems")),
            n(MAX_ATTACHMENTS)
        );
        assert_eq!(
            at(&format!(
                "{schemas}/AttachmentRequest/properties/content_base64/maxLength"
            )),
            n(MAX_ATTACHMENT_BYTES.div_ceil(3) * 4)
        );
        assert_eq!(
            at(&format!("{schemas}/NodesRequest/properties/to/maxItems")),
            n(MAX_RECIPIENTS)
        );
        for (path, param) in [("/v1/inbox", 1), ("/v1/log", 1), ("/v1/checkpoints", 1)] {
            let p = format!(
                "/paths/{}/get/parameters/{param}/schema",
                path.replace('/', "~1")
            );
            assert_eq!(at(&format!("{p}/maximum")), n(handlers::MAX_LIMIT));
            assert_eq!(at(&format!("{p}/default")), n(handlers::DEFAULT_LIMIT));
        }
        assert_eq!(
            at("/components/schemas/ProofFile/properties/format/pattern"),
            serde_json::Value::from(format!("^{}$", crate::audit::PROOF_FORMAT))
        );
    }
}
