//! `Body<T>`: a JSON request body that must be an object. serde also builds a struct from a
//! JSON array of its fields in order (`["acme.example", "mx:25"]`), and from `[]` when every
//! field has a default; the API documents objects only, so anything else is a 400.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request body that was a JSON object decoding to `T`.
pub struct Body<T>(pub T);

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Body<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Body<T>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            if !value.is_object() {
                return Err(
                    ApiError::InvalidJson("request body must be a JSON object".into()).into(),
                );
            }
            serde_json::from_value(value).map(Body).map_err(|e| {
                ApiError::InvalidJson(format!(
                    "request body is not valid JSON for this endpoint: {e}"
                ))
                .into()
            })
        })
    }
}
