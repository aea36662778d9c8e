//! The thresholds that apply to a device: for each metric, the most specific scope wins
//! (device over site over tenant). Computed in memory so that start-up with many devices needs
//! one query, not one per device.

use centinela_model::threshold::{Op, Rule};
use centinela_storage::devices::DeviceIdentity;
use centinela_storage::thresholds::Threshold;
use std::collections::HashMap;
use uuid::Uuid;

/// A compiled threshold, ready for evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveRule {
    pub threshold_id: Uuid,
    pub metric: String,
    pub rule: Rule,
    pub auto_ticket: bool,
    pub ticket_priority: Option<String>,
}

impl ActiveRule {
    /// Compiles a stored threshold; `None` if it is invalid (it was validated on the way in, so
    /// this only guards against hand-edited rows).
    pub fn compile(t: &Threshold) -> Option<ActiveRule> {
        let op = Op::parse(&t.op)?;
        let rule = Rule::new(
            op,
            t.warning,
            t.critical,
            u32::try_from(t.for_seconds).ok()?,
            t.clear_margin,
        )
        .ok()?;
        Some(ActiveRule {
            threshold_id: t.id,
            metric: t.metric.clone(),
            rule,
            auto_ticket: t.auto_ticket,
            ticket_priority: t.ticket_priority.clone(),
        })
    }
}

fn specificity(scope: &str) -> u8 {
    match scope {
        "device" => 0,
        "site" => 1,
        _ => 2,
    }
}

/// The effective rules of one device, keyed by metric base name.
pub fn effective_rules(
    device: &DeviceIdentity,
    thresholds: &[Threshold],
) -> HashMap<String, ActiveRule> {
    let mut best: HashMap<&str, &Threshold> = HashMap::new();
    for t in thresholds
        .iter()
        .filter(|t| t.tenant_id == device.tenant_id)
    {
        let applies = match t.scope.as_str() {
            "device" => t.scope_id == device.id,
            "site" => t.scope_id == device.site_id,
            "tenant" => t.scope_id == device.tenant_id,
            _ => false,
        };
        if !applies {
            continue;
        }
        let better = best
            .get(t.metric.as_str())
            .is_none_or(|cur| specificity(&t.scope) < specificity(&cur.scope));
        if better {
            best.insert(&t.metric, t);
        }
    }
    best.into_values()
        .filter_map(ActiveRule::compile)
        .map(|r| (r.metric.clone(), r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn threshold(tenant: Uuid, scope: &str, scope_id: Uuid, critical: f64) -> Threshold {
        Threshold {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            scope: scope.into(),
            scope_id,
            metric: "cpu.usage_pct".into(),
            op: ">".into(),
            warning: None,
            critical: Some(critical),
            for_seconds: 0,
            clear_margin: 0.0,
            auto_ticket: false,
            ticket_priority: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn most_specific_scope_wins_and_other_tenants_are_ignored() {
        let device = DeviceIdentity {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            site_id: Uuid::new_v4(),
            name: "pc".into(),
            kind: "agent".into(),
            heartbeat_s: None,
            last_seen_at: None,
        };
        let other_tenant = Uuid::new_v4();
        let all = vec![
            threshold(device.tenant_id, "tenant", device.tenant_id, 90.0),
            threshold(device.tenant_id, "site", device.site_id, 80.0),
            threshold(other_tenant, "device", device.id, 10.0),
        ];
        let rules = effective_rules(&device, &all);
        assert_eq!(rules["cpu.usage_pct"].rule.critical, Some(80.0));
        let mut with_device = all.clone();
        with_device.push(threshold(device.tenant_id, "device", device.id, 70.0));
        let rules = effective_rules(&device, &with_device);
        assert_eq!(rules["cpu.usage_pct"].rule.critical, Some(70.0));
    }
}
