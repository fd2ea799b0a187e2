//! The end-to-end tests: the real binaries against real peers (pacman, repo-add, makepkg, QEMU,
//! nvchecker, dnsmasq, ...) on loopback. One module per tool or concern; the shared helpers are the
//! `pipeline_tests` library (support.rs).

mod appliance;
mod aur;
mod build;
mod buildbot;
mod cli;
mod faults;
mod r#gen;
mod hostile_db;
mod hostile_metadata;
mod index;
mod netboot;
mod peers;
mod realdata;
mod repo;
mod scan;
mod upstream;
mod upstream_modes;
mod verify;
mod vm;
