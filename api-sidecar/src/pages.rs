//! Reading every verdict a filter matches, a page at a time (newest first, keyset cursor), for
//! the API's summaries: the digest, the stats breakdowns and the webhook dispatcher.

use moat_core::{
    StoreError,
    model::{VerdictFilter, VerdictRecord},
    store::SharedStore,
};

/// Verdicts read per store call.
const PAGE: u32 = 500;

/// The pages of one verdict query.
pub struct VerdictPages<'a> {
    store: &'a SharedStore,
    customer: &'a str,
    filter: VerdictFilter,
    done: bool,
    /// Verdicts read so far.
    pub read: usize,
}

impl<'a> VerdictPages<'a> {
    /// Pages of `filter` (its `after` and `limit` are managed here).
    pub fn new(store: &'a SharedStore, customer: &'a str, filter: VerdictFilter) -> Self {
        VerdictPages {
            store,
            customer,
            filter: VerdictFilter {
                after: None,
                limit: PAGE,
                ..filter
            },
            done: false,
            read: 0,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<VerdictRecord>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .store
            .verdicts(self.customer, self.filter.clone())
            .await?;
        self.read += page.len();
        match page.last() {
            Some(last) if page.len() == PAGE as usize => {
                self.filter.after = Some((last.received_at, last.id.clone()));
            }
            _ => self.done = true,
        }
        Ok(Some(page))
    }

    /// Whether every matching verdict has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }
}
