//! One integration binary (faster to link than one per file): each module is an area.

mod api;
mod api_v1;
mod auth;
mod cli;
mod cluster;
mod detection;
mod durability;
mod e2e;
mod hostile;
mod operations;
mod smtp;
mod store;
mod webhooks;
