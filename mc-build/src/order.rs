//! The order in which a set of package bases builds: every base after the bases whose packages
//! it needs. Names outside the set are the system's business and ignored; a cycle is reported
//! with the path that closes it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::srcinfo::Base;

/// What provides each name within the set: name → (base, package name).
pub type Providers = BTreeMap<String, (String, String)>;

/// The build order of a set.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Order {
    /// Bases in an order where each comes after the bases it needs; bases caught in or behind a
    /// cycle come last (they will be skipped).
    pub bases: Vec<String>,
    /// Each cycle as a path of bases, the first repeated at the end (`a → b → a`).
    pub cycles: Vec<Vec<String>>,
    /// For each base, the bases of the set it needs.
    pub needs: BTreeMap<String, BTreeSet<String>>,
}

/// Every name (package or provided) of the set, and which base and package make it. A name
/// several bases make goes to the first one in name order, so the choice does not depend on the
/// input order.
pub fn providers<'a>(bases: impl IntoIterator<Item = &'a Base>) -> Providers {
    let mut providers = Providers::new();
    let mut sorted: Vec<&Base> = bases.into_iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for base in sorted {
        for package in &base.packages {
            let made = (base.name.clone(), package.name.clone());
            providers
                .entry(package.name.clone())
                .or_insert_with(|| made.clone());
            for provided in &package.provides {
                providers
                    .entry(provided.clone())
                    .or_insert_with(|| made.clone());
            }
        }
    }
    providers
}

/// Orders `bases` (Kahn's algorithm, ties broken by name).
pub fn order(bases: &[Base]) -> Order {
    let providers = providers(bases);
    let needs: BTreeMap<String, BTreeSet<String>> = bases
        .iter()
        .map(|base| {
            let within = base
                .needs
                .iter()
                .filter_map(|name| providers.get(name))
                .map(|(provider, _)| provider.clone())
                .filter(|provider| provider != &base.name)
                .collect();
            (base.name.clone(), within)
        })
        .collect();
    let mut waiting: BTreeMap<&str, usize> = needs
        .iter()
        .map(|(base, within)| (base.as_str(), within.len()))
        .collect();
    let mut ready: VecDeque<&str> = waiting
        .iter()
        .filter(|(_, count)| **count == 0)
        .map(|(base, _)| *base)
        .collect();
    let mut ordered = Vec::new();
    while let Some(done) = ready.pop_front() {
        ordered.push(done.to_owned());
        for (base, within) in &needs {
            if within.contains(done) {
                let count = waiting.get_mut(base.as_str()).expect("every base waits");
                *count -= 1;
                if *count == 0 {
                    ready.push_back(base);
                }
            }
        }
    }
    let stuck: BTreeSet<&str> = needs
        .keys()
        .map(String::as_str)
        .filter(|base| !ordered.iter().any(|done| done == base))
        .collect();
    let cycles = cycles(&needs, &stuck);
    ordered.extend(stuck.iter().map(|base| (*base).to_owned()));
    Order {
        bases: ordered,
        cycles,
        needs,
    }
}

/// The cycles among the `stuck` bases, each once, as the shortest path from its first base (in
/// name order) back to itself.
fn cycles(needs: &BTreeMap<String, BTreeSet<String>>, stuck: &BTreeSet<&str>) -> Vec<Vec<String>> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut cycles = Vec::new();
    for start in stuck {
        if seen.contains(*start) {
            continue;
        }
        if let Some(path) = shortest_path_back(needs, start) {
            seen.extend(path.iter().cloned());
            cycles.push(path);
        }
    }
    cycles
}

/// Breadth-first search from `start` along "needs" edges back to `start`.
fn shortest_path_back(
    needs: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue: VecDeque<&str> = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in needs.get(node).into_iter().flatten() {
            if next == start {
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(at.to_owned());
                    at = came_from[at];
                }
                back.reverse();
                let mut path = vec![start.to_owned()];
                path.extend(back);
                path.push(start.to_owned());
                return Some(path);
            }
            if !came_from.contains_key(next.as_str()) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srcinfo::Package;

    fn base(name: &str, packages: &[&str], provides: &[&str], needs: &[&str]) -> Base {
        Base {
            name: name.to_owned(),
            version: "1-1".to_owned(),
            packages: packages
                .iter()
                .map(|package| Package {
                    name: (*package).to_owned(),
                    provides: provides.iter().map(|p| (*p).to_owned()).collect(),
                    depends: Vec::new(),
                })
                .collect(),
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    #[test]
    fn a_chain_builds_from_its_root_whatever_the_input_order() {
        let set = [
            base("c", &["c"], &[], &["b", "glibc"]),
            base("a", &["a"], &[], &["bash"]),
            base("b", &["b"], &[], &["a"]),
        ];
        let order = order(&set);
        assert_eq!(order.bases, ["a", "b", "c"]);
        assert!(order.cycles.is_empty());
    }

    #[test]
    fn split_packages_and_provides_resolve_to_their_base() {
        let set = [
            base("app", &["app"], &[], &["pair-lib", "virtual-tool"]),
            base("pair", &["pair-lib", "pair-doc"], &[], &[]),
            base("tools", &["tools"], &["virtual-tool"], &[]),
        ];
        let order = order(&set);
        assert_eq!(order.bases, ["pair", "tools", "app"]);
        assert_eq!(
            order.needs["app"].iter().collect::<Vec<_>>(),
            ["pair", "tools"]
        );
    }

    #[test]
    fn a_cycle_is_named_and_what_needs_it_comes_last() {
        let set = [
            base("x", &["x"], &[], &["y"]),
            base("y", &["y"], &[], &["z"]),
            base("z", &["z"], &[], &["x"]),
            base("after", &["after"], &[], &["x"]),
            base("free", &["free"], &[], &[]),
        ];
        let order = order(&set);
        assert_eq!(order.cycles, [["x", "y", "z", "x"]]);
        assert_eq!(order.bases, ["free", "after", "x", "y", "z"]);
    }

    #[test]
    fn a_base_needing_its_own_package_is_no_cycle() {
        let set = [base("self", &["self"], &[], &["self"])];
        let order = order(&set);
        assert!(order.cycles.is_empty());
        assert_eq!(order.bases, ["self"]);
    }
}
