//! Policies: checked and compiled exactly as the scanner will compile them (off the HTTP
//! workers, bounded in size and time, see [`crate::compile`]) before anything is stored, so
//! what is stored always compiles. The API's routes and `moat policy` call these.

use moat_core::{
    model::{NewPolicy, Policy},
    time::now_ms,
};

use super::Ctx;
use crate::{compile::PolicyCompiler, error::ApiError};

/// Checks a submitted policy and builds it; `others` are the customer's policies it will sit
/// beside (for the per-customer bounds).
async fn build(
    compiler: &PolicyCompiler,
    new: NewPolicy,
    id: String,
    customer_id: &str,
    created_at: i64,
    others: &[Policy],
) -> Result<Policy, ApiError> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable(
            "name must be 1 to 200 characters".into(),
        ));
    }
    let policy = Policy {
        id,
        customer_id: customer_id.to_string(),
        name,
        condition: new.condition,
        action: new.action,
        notify_admin: new.notify_admin,
        enabled: new.enabled,
        created_at,
        shadow: new.shadow,
    };
    compiler.check(&policy, others).await?;
    Ok(policy)
}

/// Checks every policy of `new` beside each other and beside `existing`; builds them all or
/// none.
async fn build_all(
    compiler: &PolicyCompiler,
    customer_id: &str,
    new: Vec<NewPolicy>,
    mut existing: Vec<Policy>,
) -> Result<Vec<Policy>, ApiError> {
    let several = new.len() > 1;
    let mut built = Vec::with_capacity(new.len());
    for p in new {
        let name = p.name.clone();
        let policy = build(
            compiler,
            p,
            uuid::Uuid::now_v7().to_string(),
            customer_id,
            now_ms(),
            &existing,
        )
        .await
        .map_err(|e| match e {
            // Of several, say which one.
            ApiError::Unprocessable(why) if several => {
                ApiError::Unprocessable(format!("policy `{name}`: {why}"))
            }
            other => other,
        })?;
        existing.push(policy.clone());
        built.push(policy);
    }
    Ok(built)
}

/// Creates policies for `customer_id`: every one is checked beside the customer's stored
/// policies and the others given before any is stored; one that does not compile refuses the
/// whole set.
pub async fn create(
    ctx: &Ctx<'_>,
    compiler: &PolicyCompiler,
    customer_id: &str,
    new: Vec<NewPolicy>,
) -> Result<Vec<Policy>, ApiError> {
    let existing = ctx.store.policies(customer_id).await?;
    let built = build_all(compiler, customer_id, new, existing).await?;
    for policy in &built {
        ctx.store.insert_policy(policy.clone()).await?;
    }
    Ok(built)
}

/// Checks policies without storing them (`moat policy validate`): as [`create`] would for a
/// customer that has none yet.
pub async fn validate(
    compiler: &PolicyCompiler,
    new: Vec<NewPolicy>,
) -> Result<Vec<Policy>, ApiError> {
    build_all(compiler, "validate", new, Vec::new()).await
}

/// Replaces policy `id` of `customer_id` (same rules as creating one; it keeps its id and
/// creation time).
pub async fn replace(
    ctx: &Ctx<'_>,
    compiler: &PolicyCompiler,
    customer_id: &str,
    id: &str,
    new: NewPolicy,
) -> Result<Policy, ApiError> {
    let existing = ctx
        .store
        .policy(customer_id, id)
        .await?
        .ok_or(ApiError::NotFound("policy"))?;
    let others: Vec<Policy> = ctx
        .store
        .policies(customer_id)
        .await?
        .into_iter()
        .filter(|p| p.id != existing.id)
        .collect();
    let policy = build(
        compiler,
        new,
        existing.id,
        customer_id,
        existing.created_at,
        &others,
    )
    .await?;
    if !ctx.store.update_policy(policy.clone()).await? {
        return Err(ApiError::NotFound("policy"));
    }
    Ok(policy)
}
