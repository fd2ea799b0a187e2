//! `mc-verify report --post`: comments posted on package bases' AUR pages, as the user whose
//! login session a cookie file holds.
//!
//! aurweb takes a comment the way the form on a package base's page sends it:
//! `POST {aur}/pkgbase/{base}/comments` with the fields `comment` (Markdown) and
//! `enable_notifications`, the session in the `AURSID` cookie. It answers with a redirect: to
//! `/pkgbase/{base}#comment-N` once the comment is saved, to `/login` when it does not know the
//! session (expired, or logged out).

use std::path::Path;

use minicluster::{
    aur::is_valid_base,
    http::{Http, OpenError, PostReply},
    record::CommentRecord,
};

/// The cookies sent: the session, and whether it was a "remember me" login. aurweb judges a
/// session's age by the second; without it, it may end a remembered session older than a
/// plain one may be, logging the user out.
const COOKIES: [&str; 2] = ["AURSID", "AURREMEMBER"];

/// Why the session could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The cookie file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file holds no usable `AURSID` cookie.
    #[error(
        "{} holds no AURSID cookie: give a Netscape cookies.txt (curl -c, a browser export) or \
         a line AURSID=VALUE",
        .0.display()
    )]
    NoSession(std::path::PathBuf),
}

/// An AUR login session: the value of the `Cookie` header that carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    cookie: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The cookie is a password for as long as the session lasts: never print it.
        f.write_str("Session(..)")
    }
}

impl Session {
    /// Reads the session from `path`.
    pub fn read(path: &Path) -> Result<Self, SessionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SessionError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).ok_or_else(|| SessionError::NoSession(path.to_owned()))
    }

    /// The session in `text`: Netscape cookies.txt lines (seven tab-separated fields, the name
    /// and value last; `#HttpOnly_` lines are cookies, other `#` lines comments), or
    /// `NAME=VALUE` lines (`;` may separate several). `None` without an `AURSID` cookie; a
    /// value that cannot go into a header is no cookie.
    pub fn parse(text: &str) -> Option<Self> {
        let mut found: [Option<&str>; COOKIES.len()] = [None; COOKIES.len()];
        for line in text.lines().map(str::trim) {
            let pairs: Vec<(&str, &str)> = match line.strip_prefix("#HttpOnly_") {
                Some(cookie) => netscape(cookie).into_iter().collect(),
                None if line.starts_with('#') => Vec::new(),
                None => netscape(line).map_or_else(
                    || {
                        let pairs = line.split(';').filter_map(|pair| pair.split_once('='));
                        pairs.map(|(n, v)| (n.trim(), v.trim())).collect()
                    },
                    |pair| vec![pair],
                ),
            };
            for (name, value) in pairs.into_iter().filter(|(_, v)| is_cookie_value(v)) {
                if let Some(at) = COOKIES.iter().position(|known| *known == name) {
                    found[at].get_or_insert(value);
                }
            }
        }
        found[0]?;
        let cookies = COOKIES.iter().zip(found);
        let pairs: Vec<String> = cookies
            .filter_map(|(name, value)| Some(format!("{name}={}", value?)))
            .collect();
        Some(Self {
            cookie: pairs.join("; "),
        })
    }
}

/// (name, value) of a Netscape cookies.txt line: domain, subdomains, path, secure, expiry,
/// name, value, separated by tabs.
fn netscape(line: &str) -> Option<(&str, &str)> {
    let fields: Vec<&str> = line.split('\t').collect();
    (fields.len() == 7).then(|| (fields[5], fields[6]))
}

/// Whether `value` is a cookie value as RFC 6265 allows it (and so cannot break the header).
fn is_cookie_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"\",;\\".contains(&b))
}

/// Why a comment was not posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// The base cannot be a package base (it came from stdin).
    #[error("{0:?} is not a valid package base name")]
    BadName(String),
    /// The request failed, or the AUR answered with an error status.
    #[error("{url}: {source}")]
    Http {
        /// Where it was posted.
        url: String,
        /// What went wrong.
        source: OpenError,
    },
    /// The AUR sent the login page: it does not know the session.
    #[error(
        "{url}: the AUR asked to log in (status {status}): the AURSID session is expired or \
             wrong; log in again and export the cookie anew"
    )]
    NotLoggedIn {
        /// Where it was posted.
        url: String,
        /// The redirect's status.
        status: u16,
    },
    /// The AUR redirected somewhere else than the package's page.
    #[error("{url}: redirected to {location:?} (status {status}) instead of the package's page")]
    Elsewhere {
        /// Where it was posted.
        url: String,
        /// The redirect's status.
        status: u16,
        /// Where it pointed.
        location: String,
    },
}

impl PostError {
    /// The error-record kind of every failed post.
    pub const KIND: &'static str = "post_failed";
}

/// Posts comments to one AUR as one user.
#[derive(Debug)]
pub struct Poster {
    http: Http,
    aur: String,
    session: Session,
}

impl Poster {
    /// A poster to the aurweb at `aur_url` (`https://aur.archlinux.org`).
    pub fn new(http: Http, aur_url: &str, session: Session) -> Self {
        Self {
            http,
            aur: aur_url.trim_end_matches('/').to_owned(),
            session,
        }
    }

    /// Where comments on `base` are posted.
    pub fn url(&self, base: &str) -> String {
        format!("{}/pkgbase/{base}/comments", self.aur)
    }

    /// Posts `comment` on its base's page, without subscribing to the base's notifications.
    pub fn post(&self, comment: &CommentRecord) -> Result<(), PostError> {
        if !is_valid_base(&comment.base) {
            return Err(PostError::BadName(comment.base.clone()));
        }
        let url = self.url(&comment.base);
        let fields = [
            ("comment", comment.markdown.as_str()),
            ("enable_notifications", "0"),
        ];
        let reply = self.http.post_form(&url, &fields, &self.session.cookie);
        match reply {
            Err(source) => Err(PostError::Http { url, source }),
            Ok(PostReply { status, location }) if (300..400).contains(&status) => {
                let location = location.unwrap_or_default();
                let path = redirect_path(&location);
                if path.starts_with("/login") {
                    Err(PostError::NotLoggedIn { url, status })
                } else if path.starts_with("/pkgbase/") || path.starts_with("/packages/") {
                    Ok(())
                } else {
                    Err(PostError::Elsewhere {
                        url,
                        status,
                        location,
                    })
                }
            }
            Ok(_) => Ok(()),
        }
    }
}

/// The path a `Location` header points to, whether it names a host or not.
fn redirect_path(location: &str) -> &str {
    let path = match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => location,
    };
    path.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_come_from_cookies_txt_or_plain_lines() {
        let cookies_txt = "# Netscape HTTP Cookie File\n\
            #HttpOnly_aur.archlinux.org\tFALSE\t/\tTRUE\t0\tAURSID\tabc123\n\
            aur.archlinux.org\tFALSE\t/\tTRUE\t0\tAURREMEMBER\tTrue\n\
            example.org\tFALSE\t/\tFALSE\t0\tother\tx\n";
        let session = Session::parse(cookies_txt).expect("a session");
        assert_eq!(session.cookie, "AURSID=abc123; AURREMEMBER=True");
        let plain = Session::parse("AURSID=f00\n").expect("a session");
        assert_eq!(plain.cookie, "AURSID=f00");
        let header = Session::parse("lang=en; AURSID=f00 ; x=1").expect("a session");
        assert_eq!(header.cookie, "AURSID=f00");
        assert_eq!(format!("{header:?}"), "Session(..)");
        for none in [
            "",
            "# AURSID=commented\n",
            "AURREMEMBER=True\n",
            "AURSID=\n",
            "AURSID=a\rb\n",
            "AURSID=\"quoted\"\n",
        ] {
            assert!(Session::parse(none).is_none(), "{none:?}");
        }
    }

    #[test]
    fn redirects_are_told_apart_by_their_path() {
        for (location, path) in [
            ("/pkgbase/yay#comment-5", "/pkgbase/yay"),
            ("https://aur.archlinux.org/login?next=%2F", "/login"),
            ("https://aur.archlinux.org", "/"),
            ("", ""),
        ] {
            assert_eq!(redirect_path(location), path, "{location}");
        }
    }
}
