//! What the walk collects, and the program built from it.

use super::*;

#[derive(Default)]
pub(super) struct Builder {
    pub(super) title: Option<String>,
    pub(super) emails: Vec<String>,
    pub(super) forms: Vec<String>,
    pub(super) keys: Vec<KeyHint>,
    pub(super) in_scope: Vec<String>,
    pub(super) reporting: Vec<String>,
    pub(super) out_of_scope: Vec<OutOfScope>,
    pub(super) attestations: Vec<Attestation>,
    pub(super) response: Option<ResponsePromise>,
    pub(super) credit: Option<CreditPolicy>,
    pub(super) promises: Vec<Promise>,
    pub(super) unmapped: Vec<Unmapped>,
}

impl Builder {
    pub(super) fn unmapped(
        &mut self,
        section: &str,
        text: impl Into<String>,
        reason: UnmappedReason,
    ) {
        self.unmapped.push(Unmapped {
            section: section.to_owned(),
            text: text.into(),
            reason,
        });
    }

    pub(super) fn push_key(&mut self, hint: KeyHint) {
        if !self.keys.contains(&hint) {
            self.keys.push(hint);
        }
    }

    /// Contacts, fingerprints and key links in any text, in the order they are written.
    pub(super) fn scan_block(&mut self, block: &Block) {
        enum Found {
            Email(String),
            Form(String),
            Key(KeyHint),
        }
        let mut found: Vec<(usize, Found)> = Vec::new();
        for (at, email) in emails_in(&block.text) {
            found.push((at, Found::Email(email)));
        }
        for (at, url) in bare_urls(&block.text) {
            // A URL written as a link's text: the link's destination is the one followed.
            let is_link_text = block.links.iter().any(|(_, _, text)| text.contains(&url));
            if contact_url(&url) && !is_link_text {
                found.push((at, Found::Form(url)));
            }
        }
        for (at, dest, text) in &block.links {
            if let Some(addr) = dest.strip_prefix("mailto:") {
                let addr = addr.split('?').next().unwrap_or_default();
                if is_email(addr) {
                    found.push((*at, Found::Email(addr.to_owned())));
                }
            } else if contact_url(dest) {
                found.push((*at, Found::Form(dest.clone())));
            } else if key_url(dest, text) {
                found.push((*at, Found::Key(KeyHint::Url(dest.clone()))));
            }
        }
        for (at, fpr) in fingerprints_in(&block.text) {
            found.push((at, Found::Key(KeyHint::Fingerprint(fpr))));
        }
        found.sort_by_key(|(at, _)| *at);
        for (_, f) in found {
            match f {
                Found::Email(e) => self.add_email(&e),
                Found::Form(u) => self.add_form(&u),
                Found::Key(k) => self.push_key(k),
            }
        }
    }

    pub(super) fn add_email(&mut self, email: &str) {
        if !self.emails.iter().any(|e| e.eq_ignore_ascii_case(email)) {
            self.emails.push(email.to_owned());
        }
    }

    pub(super) fn add_form(&mut self, url: &str) {
        if !self.forms.iter().any(|f| f == url) {
            self.forms.push(url.to_owned());
        }
    }

    /// A response time or credit statement; returns whether `text` was one.
    pub(super) fn statement(&mut self, section: &str, text: &str, in_promises: bool) -> bool {
        let lower = text.to_lowercase();
        if let Some(time) = response_time(&lower) {
            match (time, &self.response) {
                (ResponseTime::BusinessDays(days), None) => {
                    self.response = Some(ResponsePromise {
                        business_days: days,
                        wording: text.to_owned(),
                    });
                }
                (ResponseTime::BusinessDays(_), Some(taken)) => {
                    let taken = taken.business_days;
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::SecondResponseTime {
                            taken,
                            kept_as_promise: in_promises,
                        },
                    );
                }
                (ResponseTime::Other, _) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::ResponseNotInBusinessDays {
                            kept_as_promise: in_promises,
                        },
                    );
                }
            }
            return true;
        }
        if let Some(credit) = credit_statement(&lower) {
            match (credit, &self.credit) {
                (_, Some(_)) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(section, text, UnmappedReason::SecondCreditStatement);
                }
                (Credit::Unclear, None) => {
                    self.keep_promise(in_promises, text);
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::CreditUnclear {
                            kept_as_promise: in_promises,
                        },
                    );
                }
                (Credit::Credited, None) | (Credit::Never, None) => {
                    let default = if credit == Credit::Credited {
                        "credited"
                    } else {
                        "none"
                    };
                    self.credit = Some(CreditPolicy {
                        default: default.to_owned(),
                        wording: text.to_owned(),
                    });
                }
            }
            return true;
        }
        false
    }

    pub(super) fn keep_promise(&mut self, in_promises: bool, text: &str) {
        if in_promises {
            self.promises.push(Promise {
                wording: text.to_owned(),
            });
        }
    }

    /// A rule in a rules section or a list elsewhere; returns whether `text` was taken as one
    /// (attested or shown as unmapped). With `only_when_known`, text that matches no rule kind is
    /// left alone.
    pub(super) fn rule(&mut self, section: &str, text: &str, only_when_known: bool) -> bool {
        let ids = rule_ids(&text.to_lowercase());
        match ids.as_slice() {
            [] => false,
            [id] => {
                if self.attestations.iter().any(|a| a.id == *id) {
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::RuleIdTaken {
                            id: (*id).to_owned(),
                        },
                    );
                } else {
                    self.attestations.push(Attestation {
                        id: (*id).to_owned(),
                        wording: text.to_owned(),
                    });
                }
                true
            }
            several => {
                if only_when_known {
                    return false;
                }
                self.unmapped(
                    section,
                    text,
                    UnmappedReason::SeveralRuleIds {
                        ids: several.iter().map(|s| (*s).to_owned()).collect(),
                    },
                );
                true
            }
        }
    }

    /// A sentence of prose that reads as a rule ("Please do not …"): attested when it matches
    /// one kind, else shown. Returns whether it read as a rule.
    pub(super) fn prose_rule(&mut self, section: &str, sentence: &str) -> bool {
        let lower = sentence.to_lowercase();
        let opener = [
            "do not ",
            "don't ",
            "don’t ",
            "please do not ",
            "please don't ",
            "please don’t ",
            "never ",
            "please never ",
            "you should not ",
            "you must not ",
            "refrain ",
            "please refrain ",
            "please keep ",
            "keep ",
        ]
        .iter()
        .any(|o| lower.starts_with(o));
        if !opener {
            return false;
        }
        if !self.rule(section, sentence, false) {
            self.unmapped(section, sentence, UnmappedReason::NoRuleId);
        }
        true
    }

    pub(super) fn out_of_scope(&mut self, section: &str, text: String) {
        match map_class(&text) {
            Ok((class, condition)) => {
                if self.out_of_scope.iter().any(|o| o.class == class) {
                    self.unmapped(
                        section,
                        text,
                        UnmappedReason::ClassAlreadyOutOfScope {
                            class: class.to_owned(),
                        },
                    );
                } else {
                    self.out_of_scope.push(OutOfScope {
                        class: class.to_owned(),
                        wording: text,
                        condition,
                    });
                }
            }
            Err(reason) => self.unmapped(section, text, reason),
        }
    }
}
