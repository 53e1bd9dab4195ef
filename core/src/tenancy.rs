//! Tenants: who owns what. A customer's live data belongs to its id; its test tokens act on a
//! sandbox tenant of its own (`<customer id>:test`), a namespace that never sees or changes live
//! data, never claims a domain name from another tenant and never sends mail (a sandbox
//! release delivers nowhere). Every rule about sandboxes is asked of this module, so the store,
//! the API's services and the scanner's snapshot cannot disagree on it.

use crate::model::TokenKind;

/// What a sandbox tenant's id ends with: a customer's test tokens act on `<customer id>:test`,
/// a namespace of its own, so they never see or change live data and live tokens never see
/// theirs.
pub const SANDBOX_SUFFIX: &str = ":test";

/// The tenant a token of `kind` issued to `customer_id` acts on.
pub fn tenant_of(customer_id: &str, kind: TokenKind) -> String {
    let base = customer_id
        .strip_suffix(SANDBOX_SUFFIX)
        .unwrap_or(customer_id);
    match kind {
        TokenKind::Live => base.to_string(),
        TokenKind::Test => format!("{base}{SANDBOX_SUFFIX}"),
    }
}

/// Whether a tenant id is a customer's sandbox.
pub fn is_sandbox(tenant_id: &str) -> bool {
    tenant_id.ends_with(SANDBOX_SUFFIX)
}

/// The customer a tenant (live or sandbox) belongs to.
pub fn customer_of(tenant_id: &str) -> &str {
    tenant_id.strip_suffix(SANDBOX_SUFFIX).unwrap_or(tenant_id)
}

/// Whether this tenant may send mail (release to a real server, mail a digest): never a sandbox.
pub fn sends_mail(tenant_id: &str) -> bool {
    !is_sandbox(tenant_id)
}

/// Whether this tenant's domains claim their names (only one active owner per name): a
/// sandbox never does, so a test token cannot take a name from a live customer.
pub fn claims_domain_names(tenant_id: &str) -> bool {
    !is_sandbox(tenant_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_tenants_are_their_own_namespace() {
        assert_eq!(tenant_of("c1", TokenKind::Live), "c1");
        assert_eq!(tenant_of("c1", TokenKind::Test), "c1:test");
        assert_eq!(tenant_of("c1:test", TokenKind::Live), "c1");
        assert_eq!(tenant_of("c1:test", TokenKind::Test), "c1:test");
        assert!(is_sandbox("c1:test") && !is_sandbox("c1"));
        assert_eq!(customer_of("c1:test"), "c1");
        assert!(!sends_mail("c1:test") && sends_mail("c1"));
        assert!(!claims_domain_names("c1:test") && claims_domain_names("c1"));
    }
}
