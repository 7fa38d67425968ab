//! Identifiers the formats need: Terraform resource names (`snake_case`), CloudFormation
//! logical ids (`CamelCase`), unique within one file and the same on every run.

use std::collections::BTreeSet;

use flowfence_inventory::protocol_name;
use flowfence_propose::{RuleSpec, RuleTarget};

/// Words of `s`: runs of ASCII letters and digits.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// `web-asg` -> `web_asg`; a leading digit gets a `g_` prefix (HCL names start with a
/// letter).
pub(crate) fn snake(s: &str) -> String {
    let joined = words(s).join("_");
    match joined.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => joined,
        _ => format!("g_{joined}"),
    }
}

/// `web-asg` -> `WebAsg` (CloudFormation logical ids are alphanumeric).
pub(crate) fn camel(s: &str) -> String {
    let joined: String = words(s)
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    match joined.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => joined,
        _ => format!("G{joined}"),
    }
}

/// The parts of a rule's name: protocol, ports, peer (`tcp 8080 web-asg`).
pub(crate) fn rule_words(spec: &RuleSpec) -> String {
    let protocol = match spec.protocol {
        -1 => "all".to_string(),
        p => protocol_name(p),
    };
    let ports = match (spec.from, spec.to) {
        (f, _) if f < 0 => String::new(),
        (f, t) if f == t => f.to_string(),
        (f, t) => format!("{f} {t}"),
    };
    let peer = match &spec.target {
        RuleTarget::Group(g) => g.strip_prefix("new:").unwrap_or(g).to_string(),
        RuleTarget::PrefixList(p) => p.clone(),
        RuleTarget::Cidr(c) if c.prefix_len() == 0 => "anywhere".to_string(),
        RuleTarget::Cidr(c) => c.to_string(),
    };
    format!("{protocol} {ports} {peer}")
}

/// Hands out names, each once: a taken one gets `_2`, `_3`, ...
#[derive(Debug, Default)]
pub(crate) struct Unique {
    taken: BTreeSet<String>,
}

impl Unique {
    /// `base`, or `base` with the first free suffix.
    pub(crate) fn name(&mut self, base: String, separator: &str) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}{separator}{n}");
            n += 1;
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers() {
        assert_eq!(snake("web-asg"), "web_asg");
        assert_eq!(snake("10.0.1.0/24"), "g_10_0_1_0_24");
        assert_eq!(
            camel("orders-cache ingress tcp 6379"),
            "OrdersCacheIngressTcp6379"
        );
        assert_eq!(camel("2fa"), "G2fa");
        let mut u = Unique::default();
        assert_eq!(u.name("a".into(), "_"), "a");
        assert_eq!(u.name("a".into(), "_"), "a_2");
    }
}
