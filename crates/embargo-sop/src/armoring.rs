//! `armor` and `dearmor`: both pass input that is already in the asked-for form through unchanged.

use std::io::{BufRead, BufReader, Read, Write};

use embargo_core::openpgp;
use openpgp::armor::{self, Kind, ReaderMode};
use openpgp::packet::header::CTB;
use openpgp::packet::Tag;
use sop::errors::Error;
use sop::ops::{self, ArmorLabel};

use crate::fail;
use crate::signing::copy;

/// What the input starts with.
enum Shape {
    Armored,
    Binary(Tag),
}

fn shape<R: Read>(input: &mut BufReader<R>, subcommand: &str) -> sop::Result<Shape> {
    let head = input.fill_buf().map_err(Error::IoError)?;
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let head = &head[start..];
    if head.is_empty() {
        return Err(fail(
            Error::BadData,
            format!("{subcommand}: the input is empty"),
        ));
    }
    if head.starts_with(b"-----BEGIN PGP ") {
        return Ok(Shape::Armored);
    }
    match CTB::try_from(head[0]) {
        Ok(ctb) if start == 0 => Ok(Shape::Binary(ctb.tag())),
        _ => Err(fail(
            Error::BadData,
            format!("{subcommand}: the input is neither ASCII-armored nor binary OpenPGP data"),
        )),
    }
}

fn kind_of(tag: Tag) -> Option<Kind> {
    Some(match tag {
        Tag::PublicKey => Kind::PublicKey,
        Tag::SecretKey => Kind::SecretKey,
        Tag::Signature => Kind::Signature,
        Tag::PKESK
        | Tag::SKESK
        | Tag::OnePassSig
        | Tag::Literal
        | Tag::CompressedData
        | Tag::SEIP
        | Tag::SED
        | Tag::Marker => Kind::Message,
        _ => return None,
    })
}

#[derive(Default)]
pub(crate) struct ArmorOp {
    label: ArmorLabel,
}

impl<'s> ops::Armor<'s> for ArmorOp {
    fn label(mut self: Box<Self>, label: ArmorLabel) -> Box<dyn ops::Armor<'s> + 's> {
        self.label = label;
        self
    }

    fn data<'d>(
        self: Box<Self>,
        data: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready + 'd>>
    where
        's: 'd,
    {
        Ok(Box::new(Armor {
            label: self.label,
            data,
        }))
    }
}

struct Armor<'d> {
    label: ArmorLabel,
    data: &'d mut (dyn Read + Send + Sync),
}

impl ops::Ready for Armor<'_> {
    fn to_writer(self: Box<Self>, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let mut input = BufReader::new(self.data);
        let tag = match shape(&mut input, "armor")? {
            Shape::Armored => return copy(&mut input, sink, &Error::IoError),
            Shape::Binary(tag) => tag,
        };
        let kind = match self.label {
            ArmorLabel::Auto => kind_of(tag).ok_or_else(|| {
                fail(
                    Error::BadData,
                    format!(
                        "armor: the input starts with a {tag} packet, which no armor label fits"
                    ),
                )
            })?,
            ArmorLabel::Sig => Kind::Signature,
            ArmorLabel::Key => Kind::SecretKey,
            ArmorLabel::Cert => Kind::PublicKey,
            ArmorLabel::Message => Kind::Message,
        };
        let mut w = armor::Writer::new(sink, kind).map_err(Error::IoError)?;
        copy(&mut input, &mut w, &Error::IoError)?;
        w.finalize().map_err(Error::IoError)?;
        Ok(())
    }
}

pub(crate) struct DearmorOp;

impl<'s> ops::Dearmor<'s> for DearmorOp {
    fn data<'d>(
        self: Box<Self>,
        data: &'d mut (dyn Read + Send + Sync),
    ) -> sop::Result<Box<dyn ops::Ready + 'd>>
    where
        's: 'd,
    {
        Ok(Box::new(Dearmor { data }))
    }
}

struct Dearmor<'d> {
    data: &'d mut (dyn Read + Send + Sync),
}

impl ops::Ready for Dearmor<'_> {
    fn to_writer(self: Box<Self>, sink: &mut (dyn Write + Send + Sync)) -> sop::Result<()> {
        let mut input = BufReader::new(self.data);
        match shape(&mut input, "dearmor")? {
            Shape::Binary(_) => copy(&mut input, sink, &Error::IoError),
            Shape::Armored => {
                let mut reader = armor::Reader::from_reader(input, ReaderMode::Tolerant(None));
                copy(&mut reader, sink, &|e| {
                    fail(
                        Error::BadData,
                        format!("dearmor: the armor is damaged: {e}"),
                    )
                })
            }
        }
    }
}
