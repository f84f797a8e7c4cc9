//! The simulated instance's records: one map of rows per table, every value a
//! string, with the system fields (`sys_id`, `number`, `sys_mod_count`,
//! `sys_created_on`, `sys_updated_on`, ...) kept as the platform keeps them.
//! Writes go through [`Data::insert`] and [`Data::update`], which apply the
//! incident rules: priority from impact × urgency, the On Hold and Resolved
//! data policies, and journal entries for `comments` / `work_notes`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::auth::AuthState;
use super::limits::RateRule;

/// One record: field name → string value.
pub type Rec = BTreeMap<String, String>;

/// A stored row: its insertion sequence (the order of ties) and its fields.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub seq: u64,
    pub fields: Rec,
}

/// The platform's timestamp format: `yyyy-MM-dd HH:mm:ss`, UTC.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The journal fields: writes to them become `sys_journal_field` rows.
pub(crate) const JOURNAL_FIELDS: [&str; 2] = ["comments", "work_notes"];

/// Fields every task-like table has (for "unknown field" decisions).
pub(crate) const TASK_FIELDS: &[&str] = &[
    "sys_id",
    "number",
    "short_description",
    "description",
    "state",
    "priority",
    "impact",
    "urgency",
    "assignment_group",
    "assigned_to",
    "caller_id",
    "company",
    "correlation_id",
    "correlation_display",
    "comments",
    "work_notes",
    "hold_reason",
    "close_code",
    "close_notes",
    "active",
    "opened_at",
    "resolved_at",
    "closed_at",
    "category",
    "subcategory",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
];

/// Why a write was refused: status, message and detail of the error body.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub status: u16,
    pub message: String,
    pub detail: String,
}

impl Refusal {
    pub fn new(status: u16, message: &str, detail: &str) -> Self {
        Self {
            status,
            message: message.into(),
            detail: detail.into(),
        }
    }
}

/// The whole instance.
pub(crate) struct Data {
    pub tables: BTreeMap<String, BTreeMap<String, Row>>,
    pub next_seq: u64,
    pub numbers: HashMap<String, u64>,
    /// Priority by `[impact - 1][urgency - 1]`.
    pub matrix: [[u8; 3]; 3],
    pub auth: AuthState,
    pub rate_rule: Option<RateRule>,
    /// Where incident changes are announced, and the shared secret.
    pub notify: Option<(String, String)>,
    /// The table notifications are sent for.
    pub notify_table: String,
}

impl Data {
    pub fn new(matrix: [[u8; 3]; 3], auth: AuthState) -> Self {
        Self {
            tables: BTreeMap::new(),
            next_seq: 1,
            numbers: HashMap::new(),
            matrix,
            auth,
            rate_rule: None,
            notify: None,
            notify_table: "incident".into(),
        }
    }

    pub fn rows(&self, table: &str) -> impl Iterator<Item = &Row> {
        self.tables.get(table).into_iter().flat_map(|t| t.values())
    }

    pub fn get(&self, table: &str, sys_id: &str) -> Option<&Rec> {
        self.tables.get(table)?.get(sys_id).map(|r| &r.fields)
    }

    /// Whether a field exists on a table (an unknown field in a query clause is ignored).
    pub fn knows_field(&self, table: &str, field: &str) -> bool {
        let base = field.split('.').next().unwrap_or(field);
        if !table.starts_with("sys_") && table != "core_company" && TASK_FIELDS.contains(&base) {
            return true;
        }
        self.rows(table).any(|r| r.fields.contains_key(base))
    }

    /// The sys_id of the row of `table` whose `name` (or `user_name`) is `name`.
    pub fn find_by_name(&self, table: &str, name: &str) -> Option<String> {
        self.rows(table)
            .find(|r| {
                r.fields.get("name").map(String::as_str) == Some(name)
                    || r.fields.get("user_name").map(String::as_str) == Some(name)
            })
            .and_then(|r| r.fields.get("sys_id").cloned())
    }

    fn next_number(&mut self, table: &str) -> Option<String> {
        let prefix = match table {
            "incident" => "INC",
            "sc_req_item" => "RITM",
            "problem" => "PRB",
            "change_request" => "CHG",
            t if t.starts_with("sys_") || t == "core_company" => return None,
            _ => "TASK",
        };
        let n = self.numbers.entry(prefix.to_string()).or_insert(10_000);
        *n += 1;
        Some(format!("{prefix}{:07}", *n))
    }

    /// Creates a record from `values` as `user`; returns its sys_id.
    pub fn insert(
        &mut self,
        table: &str,
        values: Rec,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<String, Refusal> {
        let sys_id = new_sys_id();
        let stamp = format_time(now);
        let mut rec = Rec::new();
        if is_task(table) {
            for (k, v) in [
                ("state", "1"),
                ("impact", "3"),
                ("urgency", "3"),
                ("active", "true"),
            ] {
                rec.insert(k.into(), v.into());
            }
            rec.insert("opened_at".into(), stamp.clone());
        }
        if let Some(number) = self.next_number(table) {
            rec.insert("number".into(), number);
        }
        let journal = self.apply_values(table, &mut rec, values, user)?;
        for (k, v) in [
            ("sys_id", sys_id.clone()),
            ("sys_created_on", stamp.clone()),
            ("sys_created_by", user.to_string()),
            ("sys_updated_on", stamp),
            ("sys_updated_by", user.to_string()),
            ("sys_mod_count", "0".to_string()),
        ] {
            rec.insert(k.into(), v);
        }
        self.store(table, rec);
        self.journal(table, &sys_id, journal, user, now);
        Ok(sys_id)
    }

    /// Changes a record; `Ok(None)` when there is no such record.
    pub fn update(
        &mut self,
        table: &str,
        sys_id: &str,
        values: Rec,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<()>, Refusal> {
        let Some(mut rec) = self.get(table, sys_id).cloned() else {
            return Ok(None);
        };
        let journal = self.apply_values(table, &mut rec, values, user)?;
        let count = rec
            .get("sys_mod_count")
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        rec.insert("sys_mod_count".into(), (count + 1).to_string());
        rec.insert("sys_updated_on".into(), format_time(now));
        rec.insert("sys_updated_by".into(), user.to_string());
        let seq = self
            .tables
            .get(table)
            .and_then(|t| t.get(sys_id))
            .map(|r| r.seq)
            .unwrap_or(0);
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(sys_id.to_string(), Row { seq, fields: rec });
        self.journal(table, sys_id, journal, user, now);
        Ok(Some(()))
    }

    /// Deletes a record; whether it existed.
    pub fn delete(&mut self, table: &str, sys_id: &str) -> bool {
        self.tables
            .get_mut(table)
            .is_some_and(|t| t.remove(sys_id).is_some())
    }

    /// Stores a system row (seed data) as it is.
    pub fn store(&mut self, table: &str, rec: Rec) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let sys_id = rec.get("sys_id").cloned().unwrap_or_else(new_sys_id);
        let mut rec = rec;
        rec.insert("sys_id".into(), sys_id.clone());
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(sys_id, Row { seq, fields: rec });
    }

    /// Merges `values` into `rec` with the platform's rules; returns the
    /// journal entries to write (element, text).
    fn apply_values(
        &self,
        table: &str,
        rec: &mut Rec,
        values: Rec,
        _user: &str,
    ) -> Result<Vec<(String, String)>, Refusal> {
        if table == "sys_journal_field" {
            return Err(Refusal::new(
                403,
                "Operation Failed",
                "ACL restricts the record write: sys_journal_field is read-only through the Table API",
            ));
        }
        let mut journal = Vec::new();
        for (field, value) in values {
            if field.starts_with("sys_") && field != "sys_domain" {
                continue; // system fields are not writable
            }
            if JOURNAL_FIELDS.contains(&field.as_str()) {
                if !value.is_empty() {
                    journal.push((field, value));
                }
                continue;
            }
            let value = self.resolve_reference(table, &field, value);
            rec.insert(field, value);
        }
        if is_task(table) {
            let level = |f: &str| {
                rec.get(f)
                    .and_then(|v| v.parse::<usize>().ok())
                    .filter(|n| (1..=3).contains(n))
                    .unwrap_or(3)
            };
            let priority = self.matrix[level("impact") - 1][level("urgency") - 1];
            rec.insert("priority".into(), priority.to_string());
            self.data_policies(rec)?;
            let state = rec.get("state").cloned().unwrap_or_default();
            let active = !matches!(state.as_str(), "7" | "8");
            rec.insert("active".into(), active.to_string());
        }
        Ok(journal)
    }

    /// A reference written by display name is stored as the sys_id it names.
    fn resolve_reference(&self, table: &str, field: &str, value: String) -> String {
        let Some(target) = super::render::reference_target(table, field) else {
            return value;
        };
        if value.is_empty() || self.get(target, &value).is_some() {
            return value;
        }
        self.find_by_name(target, &value).unwrap_or(value)
    }

    /// On Hold needs a hold reason; Resolved and Closed need close code and notes.
    fn data_policies(&self, rec: &Rec) -> Result<(), Refusal> {
        let missing = |f: &str| rec.get(f).is_none_or(|v| v.trim().is_empty());
        let mut names = Vec::new();
        match rec.get("state").map(String::as_str) {
            Some("3") if missing("hold_reason") => names.push("On hold reason"),
            Some("6") | Some("7") => {
                if missing("close_code") {
                    names.push("Resolution code");
                }
                if missing("close_notes") {
                    names.push("Resolution notes");
                }
            }
            _ => {}
        }
        if names.is_empty() {
            return Ok(());
        }
        Err(Refusal::new(
            403,
            "Operation Failed",
            &format!(
                "Data Policy Exception: \n\tThe following fields are mandatory: {}",
                names.join(", ")
            ),
        ))
    }

    fn journal(
        &mut self,
        table: &str,
        sys_id: &str,
        entries: Vec<(String, String)>,
        user: &str,
        now: DateTime<Utc>,
    ) {
        for (element, value) in entries {
            let mut rec = Rec::new();
            for (k, v) in [
                ("element", element),
                ("element_id", sys_id.to_string()),
                ("name", table.to_string()),
                ("value", value),
                ("sys_created_on", format_time(now)),
                ("sys_created_by", user.to_string()),
            ] {
                rec.insert(k.into(), v);
            }
            self.store("sys_journal_field", rec);
        }
    }
}

/// Tables that follow the task rules (priority matrix, data policies).
pub(crate) fn is_task(table: &str) -> bool {
    !(table.starts_with("sys_") || table == "core_company")
}

/// A new 32-hex-digit sys_id.
pub fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
