//! Client authentication from arbitrary header and query strings, and the envelope `dsn`: never
//! panics, and whatever is accepted is a well-formed key and a supported version.
#![no_main]

use arbitrary::Arbitrary;
use errhound_protocol::sentry_auth::{
    AuthError, AuthSources, ClientAuth, MAX_PROTOCOL_VERSION, from_request, merge_envelope_dsn,
};
use errhound_protocol::dsn::Dsn;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Request<'a> {
    x_sentry_auth: Option<&'a str>,
    authorization: Option<&'a str>,
    query: Option<&'a str>,
    /// The envelope's `dsn` header, parsed as the ingest endpoint does.
    envelope_dsn: Option<&'a str>,
    /// A raw key, handed to `merge_envelope_dsn` directly.
    envelope_key: Option<&'a str>,
}

fn check_accepted(auth: &ClientAuth) {
    assert_eq!(auth.public_key.len(), 32, "{auth:?}");
    assert!(
        auth.public_key.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{auth:?}"
    );
    assert!(
        auth.version.is_none_or(|v| v <= MAX_PROTOCOL_VERSION),
        "{auth:?}"
    );
}

fn check_merge(request: &Option<ClientAuth>, key: Option<&str>) {
    match merge_envelope_dsn(request.clone(), key) {
        Ok(merged) => {
            check_accepted(&merged);
            if let Some(request) = request {
                assert_eq!(merged.public_key, request.public_key);
            }
        }
        Err(AuthError::Missing) => assert!(request.is_none() && key.is_none()),
        Err(AuthError::Conflicting) => assert!(request.is_some() && key.is_some()),
        Err(AuthError::BadPublicKey) => assert!(key.is_some()),
        Err(other) => panic!("merge_envelope_dsn cannot fail with {other:?}"),
    }
}

fuzz_target!(|input: Request<'_>| {
    let result = from_request(AuthSources {
        x_sentry_auth: input.x_sentry_auth,
        authorization: input.authorization,
        query: input.query,
    });
    let request = match result {
        Ok(request) => request,
        Err(error) => {
            let _ = error.is_unauthorized();
            let _ = error.to_string();
            return;
        }
    };
    if let Some(auth) = &request {
        check_accepted(auth);
    }
    check_merge(&request, input.envelope_key);
    if let Some(text) = input.envelope_dsn
        && let Ok(dsn) = Dsn::parse(text)
    {
        check_merge(&request, Some(&dsn.public_key));
    }
});
