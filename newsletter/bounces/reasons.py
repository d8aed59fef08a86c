"""The reason table: what a failure's words and codes mean (documented in the README).

About the address → hard; about the mailbox for now → soft; about us, the sender → never the reader's.
Phrases are matched case-insensitively against a diagnostic or a report's own words, first match wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from newsletter.models.bounces import BounceKind


class Meaning(StrEnum):
    ADDRESS = "address"
    MAILBOX = "mailbox"
    ABOUT_US = "about_us"


KIND_OF_MEANING = {
    Meaning.ADDRESS: BounceKind.HARD,
    Meaning.MAILBOX: BounceKind.SOFT,
    Meaning.ABOUT_US: BounceKind.ABOUT_US,
}


@dataclass(frozen=True)
class Reason:
    name: str
    meaning: Meaning
    pattern: re.Pattern[str]


def _reason(name: str, meaning: Meaning, *phrases: str) -> Reason:
    return Reason(name, meaning, re.compile("|".join(phrases), re.IGNORECASE))


# First match wins: what is about us comes first (a block is often worded "user … rejected"), then what is
# temporary about the mailbox, then what is about the address.
REASONS: tuple[Reason, ...] = (
    # Phrases only an unknown address is worded in come first: a block is not worded "user unknown", while
    # an unknown user's notice may go on to say "giving up" or "not listed in".
    _reason(
        "no_such_address",
        Meaning.ADDRESS,
        r"recipient address rejected: (?:access denied|user unknown)",  # Office 365's edge blocking, Postfix
        r"user unknown",
        r"unknown (?:user|recipient|addressee)",
        r"no such (?:user|recipient|mailbox|account|person|local user)",
        r"not listed in (?:the )?(?:\w+ )?(?:directory|address book)",
        r"doesn't have an? \S+ account",
        r"n'existe pas",
        r"не существует",
        r"нет такого",
        r"invalid (?:final delivery )?user ?id",
        r"no matches to nameserver query",
        r"did not exactly match",
        r"addressee unknown",
        r"(?:recipient|user) name is not recognized",
        r"user not known",
        r"does not have a final (?:e-?mail )?delivery point",
        r"no longer valid",
        r"unknown host",
    ),
    _reason(
        "spam",
        Meaning.ABOUT_US,
        r"\bspam",
        r"unsolicited",
        r"bulk mail",
        r"content (?:rejected|filter)",
        r"message content",
        r"virus",
        r"phish",
        r"malware",
        r"suspicious",
        r"junk",
    ),
    _reason(
        "relaying_denied",
        Meaning.ABOUT_US,
        r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited)",
        r"not permitted to relay",
        r"unable to relay",
        r"we do not relay",
    ),
    _reason(
        "blocked",
        Meaning.ABOUT_US,
        r"\bblock(?:ed|list|ing)\b",
        r"black ?list",
        r"\bdeny ?list",
        r"\blisted (?:at|in|on|by)\b",
        r"\brbl\b",
        r"spamhaus",
        r"spamcop",
        r"barracuda",
        r"\bsorbs\b",
        r"dnsbl",
        r"banned",
        r"access denied",
        r"not accepting mail from",
    ),
    _reason(
        "authentication",
        Meaning.ABOUT_US,
        r"\bdmarc\b",
        r"\bspf\b",
        r"\bdkim\b",
        r"not authenticated",
        r"authentication (?:fail|required)",
        r"unauthenticated",
        r"sender (?:address |domain )?(?:rejected|verify failed|not allowed)",
        r"sender verification",
    ),
    _reason(
        "reverse_dns",
        Meaning.ABOUT_US,
        r"reverse dns",
        r"\bptr\b",
        r"rdns",
        r"reverse (?:lookup|hostname)",
        r"client host \S+ rejected",
        r"cannot find your hostname",
        r"helo",
    ),
    _reason("reputation", Meaning.ABOUT_US, r"reputation", r"low quality", r"poor sender"),
    _reason(
        "rate_limit",
        Meaning.ABOUT_US,
        r"rate limit",
        r"too many (?:messages|connections|emails|mails|recipients)",
        r"rate of",
        r"throttl",
        r"try again later.*(?:volume|rate)",
        r"unusual rate",
        r"sending limit",
    ),
    _reason(
        "message_size",
        Meaning.ABOUT_US,
        r"message (?:size |length )?(?:exceeds|too (?:big|large))",
        r"too large",
        r"size limit",
        r"message size",
    ),
    _reason("policy", Meaning.ABOUT_US, r"\bpolicy\b", r"\bpolicies\b", r"prohibited", r"not allowed", r"refused by"),
    _reason(
        "mailbox_full",
        Meaning.MAILBOX,
        r"mailbox (?:is )?full",
        r"over ?quota",
        r"quota (?:exceeded|full)",
        r"exceeded (?:the )?(?:storage|quota)",
        r"insufficient (?:system )?storage",
        r"mailbox size limit",
        r"out of storage",
        r"full mailbox",
        r"mail ?box (?:has )?exceeded",
        r"storage (?:allocation|space)",
        r"quota",
        r"(?:mail ?folder|mailbox|inbox) is full",
        r"disk full",
        r"space not enough",
        r"not been collected",
    ),
    _reason(
        "temporarily_unavailable",
        Meaning.MAILBOX,
        r"temporar",
        r"for now",
        r"try (?:again )?later",
        r"inactive for now",
        r"currently (?:unavailable|suspended)",
        r"(?:try to|please) resend",
    ),
    _reason(
        "expired",
        Meaning.MAILBOX,
        r"retry (?:time(?:out)?|period) (?:not reached|exceeded)",
        r"(?:delivery|message) (?:time ?out|expired)",
        r"could not be delivered (?:for|within) \d",
        r"has not been delivered",
        r"gave up",
        r"giving up",
        r"expired",
        r"delay(?:ed)? (?:for )?(?:more than|over)",
        r"failed \d+ attempts",
    ),
    _reason(
        "network",
        Meaning.MAILBOX,
        r"connection (?:refused|timed out|reset|lost)",
        r"timed out",
        r"network",
        r"lost connection",
        r"no route to host",
        r"system (?:error|problem)",
        r"local error",
        r"resources",
        r"i/o error",
        r"loops? (?:back|detected)",
        r"mail loop",
        r"too many hops",
        r"too many failures",
        r"tried all mxs?",
        r"command died",
        r"not reachable",
        r"not responding",
    ),
    _reason(
        "no_such_address",
        Meaning.ADDRESS,
        r"user unknown",
        r"unknown (?:user|recipient|local|address|mailbox)",
        r"no such (?:user|recipient|address|mailbox|account|person|local user)",
        r"(?:user|recipient|address|mailbox|account|addressee) (?:\S+ )?(?:does not|doesn't|doesn.t) exist",
        r"does not exist",
        r"(?:user|recipient|address|mailbox|account) (?:\S+ )?(?:not found|unknown|invalid)",
        r"invalid (?:recipient|address|mailbox|user)",
        r"no mailbox",
        r"mailbox (?:not found|unavailable|does not exist)",
        r"not (?:a )?(?:valid|known) (?:user|recipient|mailbox|address)",
        r"unrouteable",
        r"recipient (?:address )?rejected",
        r"address rejected",
        r"bad destination",
        r"unknown or illegal alias",
        r"not listed in",
        r"no (?:valid )?recipients",
        r"mailbox unknown",
        r"not our customer",
        r"no longer (?:valid|available|in use|active)",
        r"invalid mailbox",
        r"not a valid",
        r"could(?:n't| not) be found",
        r"isn't a valid",
    ),
    _reason(
        "no_such_domain",
        Meaning.ADDRESS,
        r"host (?:or domain name )?not found",
        r"domain (?:not found|does not exist|is not valid|unknown)",
        r"no such domain",
        r"name service error",
        r"unknown domain",
        r"no mx",
        r"nxdomain",
        r"unroutable",
        r"non-existent (?:domain|host)",
    ),
    _reason(
        "disabled_or_moved",
        Meaning.ADDRESS,
        r"\bdisabled\b",
        r"deactivated",
        r"account (?:\S+ )?(?:closed|expired|suspended|locked|inactive)",
        r"mailbox (?:\S+ )?(?:inactive|locked|closed)",
        r"\bmoved\b",
        r"no longer",
        r"discontinued",
    ),
)

STATUS_MEANINGS: tuple[tuple[str, Meaning, str], ...] = (
    # (code prefix, meaning, reason name); longest prefix first
    ("5.1.1", Meaning.ADDRESS, "no_such_address"),
    ("5.1.2", Meaning.ADDRESS, "no_such_domain"),
    ("5.1.3", Meaning.ADDRESS, "no_such_address"),
    ("5.1.6", Meaning.ADDRESS, "disabled_or_moved"),
    ("5.1.10", Meaning.ADDRESS, "no_such_address"),
    ("5.1.8", Meaning.ABOUT_US, "authentication"),
    ("5.1.7", Meaning.ABOUT_US, "authentication"),
    ("5.1.", Meaning.ADDRESS, "no_such_address"),
    ("5.2.1", Meaning.ADDRESS, "disabled_or_moved"),
    ("5.2.2", Meaning.MAILBOX, "mailbox_full"),
    ("5.2.3", Meaning.ABOUT_US, "message_size"),
    ("5.3.4", Meaning.ABOUT_US, "message_size"),
    ("5.4.4", Meaning.ADDRESS, "no_such_domain"),
    ("5.4.", Meaning.MAILBOX, "network"),
    ("5.7.", Meaning.ABOUT_US, "policy"),
    ("4.7.", Meaning.ABOUT_US, "policy"),
    ("4.2.2", Meaning.MAILBOX, "mailbox_full"),
    ("4.", Meaning.MAILBOX, "temporarily_unavailable"),
    ("5.", Meaning.MAILBOX, "unknown_permanent"),
)
"""When the text says nothing we know. A bare 5.x.x we cannot place is counted as soft, not suppressed."""
