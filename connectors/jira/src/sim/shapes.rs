//! The JSON shapes REST v3 gives the simulated records: users,
//! priorities, comments (`jsdPublic` on service desk issues) and issue
//! beans with the fields and properties asked for.

use serde_json::{json, Value};

use super::state::{jira_time, CommentRec, IssueRec, IssueType, State, SITE_TIME_ZONE};
use super::workflow;

/// An issue type bean.
pub(crate) fn issue_type_json(base: &str, t: &IssueType) -> Value {
    json!({"self": format!("{base}rest/api/3/issuetype/{}", t.id), "id": t.id, "name": t.name, "subtask": false, "description": "", "iconUrl": format!("{base}icon.png")})
}

impl State {
    pub fn user_json(&self, base: &str, name: &str) -> Value {
        let u = self.user_by_name(name);
        json!({
            "self": format!("{base}rest/api/3/user?accountId={}", u.account_id),
            "accountId": u.account_id,
            "emailAddress": u.email,
            "displayName": u.name,
            "active": true,
            "timeZone": SITE_TIME_ZONE,
            "accountType": "atlassian",
            "avatarUrls": {"48x48": format!("{base}avatar.png")}
        })
    }

    pub fn priority_json(&self, base: &str, id: &str) -> Value {
        let name = self
            .priorities
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
            .unwrap_or("Medium");
        json!({"self": format!("{base}rest/api/3/priority/{id}"), "iconUrl": format!("{base}images/icons/priorities/{}.svg", name.to_lowercase()), "name": name, "id": id})
    }

    pub fn comment_json(&self, base: &str, issue: &IssueRec, c: &CommentRec) -> Value {
        let mut v = json!({
            "self": format!("{base}rest/api/3/issue/{}/comment/{}", issue.id, c.id),
            "id": c.id.to_string(),
            "author": self.user_json(base, &c.author),
            "body": c.body,
            "updateAuthor": self.user_json(base, &c.author),
            "created": jira_time(c.created),
            "updated": jira_time(c.created),
        });
        if self.project(issue.project).is_some_and(|p| p.service_desk) {
            v["jsdPublic"] = json!(c.public);
        }
        v
    }

    /// Every field of an issue, by id.
    pub fn issue_fields(&self, base: &str, i: &IssueRec) -> serde_json::Map<String, Value> {
        let project = self.project(i.project);
        let status = self
            .status(i.status)
            .map(|s| workflow::status_json(base, s));
        let mut f = serde_json::Map::new();
        f.insert("summary".into(), json!(i.summary));
        f.insert(
            "description".into(),
            i.description.clone().unwrap_or(Value::Null),
        );
        f.insert("status".into(), status.unwrap_or(Value::Null));
        f.insert("priority".into(), self.priority_json(base, &i.priority));
        f.insert(
            "resolution".into(),
            i.resolution
                .as_ref()
                .map(|r| {
                    let id = workflow::RESOLUTIONS
                        .iter()
                        .find(|(_, n)| n == r)
                        .map(|(id, _)| *id)
                        .unwrap_or("10000");
                    json!({"self": format!("{base}rest/api/3/resolution/{id}"), "id": id, "name": r, "description": ""})
                })
                .unwrap_or(Value::Null),
        );
        f.insert("labels".into(), json!(i.labels));
        f.insert(
            "assignee".into(),
            i.assignee
                .as_ref()
                .map(|a| self.user_json(base, a))
                .unwrap_or(Value::Null),
        );
        let components: Vec<Value> = i
            .components
            .iter()
            .filter_map(|n| super::state::COMPONENTS.iter().find(|(_, c)| c == n))
            .map(|(id, n)| json!({"self": format!("{base}rest/api/3/component/{id}"), "id": id, "name": n}))
            .collect();
        f.insert("components".into(), json!(components));
        if let Some(t) = self.issue_type_of(i) {
            f.insert("issuetype".into(), issue_type_json(base, &t));
        }
        if let Some(p) = project {
            f.insert(
                "project".into(),
                json!({"self": format!("{base}rest/api/3/project/{}", p.id), "id": p.id, "key": p.key, "name": p.name, "projectTypeKey": if p.service_desk { "service_desk" } else { "software" }, "simplified": false}),
            );
        }
        f.insert("created".into(), json!(jira_time(i.created)));
        f.insert("updated".into(), json!(jira_time(i.updated)));
        f.insert("reporter".into(), self.user_json(base, &i.reporter));
        let comments: Vec<Value> = i
            .comments
            .iter()
            .map(|c| self.comment_json(base, i, c))
            .collect();
        f.insert(
            "comment".into(),
            json!({"comments": comments, "self": format!("{base}rest/api/3/issue/{}/comment", i.id), "maxResults": comments.len(), "total": comments.len(), "startAt": 0}),
        );
        for field in self.fields.iter().filter(|f| f.custom) {
            f.insert(
                field.id.into(),
                i.custom.get(field.id).cloned().unwrap_or(Value::Null),
            );
        }
        f
    }

    /// An issue bean with the fields asked for (`*all` / `*navigable` or
    /// none given: all; ids otherwise; `-name` removes one) and properties.
    pub fn issue_json(
        &self,
        base: &str,
        i: &IssueRec,
        fields: Option<&[String]>,
        properties: &[String],
    ) -> Value {
        let all = self.issue_fields(base, i);
        let wanted: serde_json::Map<String, Value> = match fields {
            None => all,
            Some(list) if list.iter().any(|f| f == "*all" || f == "*navigable") => {
                let mut all = all;
                for f in list.iter().filter_map(|f| f.strip_prefix('-')) {
                    all.remove(f);
                }
                all
            }
            Some(list) => list
                .iter()
                .filter_map(|f| all.get(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        };
        let mut v = json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": i.id.to_string(),
            "self": format!("{base}rest/api/3/issue/{}", i.id),
            "key": i.key,
            "fields": wanted,
        });
        if !properties.is_empty() {
            let props: serde_json::Map<String, Value> = i
                .properties
                .iter()
                .filter(|(k, _)| properties.iter().any(|p| p == *k || p == "*all"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            v["properties"] = Value::Object(props);
        }
        v
    }
}
