import pytest
from postroom.core.config import Bounce, ConfigError, Security, init_site, open_site
from postroom.core.model import Cadence
from support import make_site


def test_every_key_has_a_default(tmp_path):
    (tmp_path / "postroom.toml").write_text("")
    config = open_site(tmp_path).config
    assert config.feed.window == 50 and config.site.timezone == "Europe/London"
    assert config.day_first


def test_init_makes_a_site_that_loads_and_refuses_to_overwrite(tmp_path):
    site = init_site(tmp_path / "new")
    assert site.content_dir.is_dir() and site.config.site.title == "postroom"
    with pytest.raises(ConfigError, match="already exists"):
        init_site(tmp_path / "new")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[feed]\nwindw = 3\n", "unknown key 'feed.windw'"),
        ("[site]\ntimezone = 'Mars/Olympus'\n", "'site.timezone' unknown IANA timezone"),
        ("[feed]\nwindow = '50'\n", "'feed.window' must be int"),
        ("[feed]\nwindow = 0\n", "'feed.window' must be at least 1"),
        ("[site]\nbase_url = 'example.org'\n", "'site.base_url' must be an http"),
        ("[nonsense]\n", "unknown key 'nonsense'"),
        ("[site\n", "not valid TOML"),
        (
            "[mail]\ntransport = 'pigeon'\n",
            "'mail.transport' must be one of files, smtp, not 'pigeon'",
        ),
        (
            "[mail]\nsecurity = 'ssl'\n",
            "'mail.security' must be one of starttls, tls, none, not 'ssl'",
        ),
        ("[mail]\nbounce = 'all'\n", "'mail.bounce' must be one of rcpt, any, never, not 'all'"),
        ("[mail]\nsecurity = 1\n", "'mail.security' must be str, not int"),
        ("[mail]\ntables = []\n", "unknown key 'mail.tables'"),
        ("[mail.host]\nx = 1\n", "'mail.host' must be str, not dict"),
        ("[digest]\nmonthly = 'mon 07:00'\n", "'digest.monthly' must be first, second"),
        ("[digest]\nmonthly = 'first funday 07:00'\n", "'digest.monthly' must be first, second"),
        ("[digest]\nmonthly = 'first'\n", "'digest.monthly' must be first.*not 'first'"),
        ("[digest]\nmonthly = 'last tue 07:00'\n", "'digest.monthly' 'last tue 07:00' must"),
        ("[digest]\ncadence = 'daily'\n", "'digest.cadence' must be one of weekly, monthly, off"),
        ("[digest]\ncadence = 'monthly'\n", "'digest.cadence' is monthly but 'digest.monthly'"),
        ("[digest]\ntopics = 'Adoption'\n", "'digest.topics' must be a list of strings"),
        ("[digest]\ntopics = [1, 2]\n", "'digest.topics' must be a list.*not \\[1, 2\\]"),
    ],
)
def test_bad_config_names_the_key_and_the_file(tmp_path, toml, message):
    with pytest.raises(ConfigError, match=message) as caught:
        make_site(tmp_path, config=toml)
    assert str(tmp_path / "postroom.toml") in str(caught.value)


def test_month_first_locale(tmp_path):
    site = make_site(tmp_path, config="[dates]\nlocale = 'en-US'\n")
    assert not site.config.day_first


def test_choices_are_read_into_enums_and_mean_what_they_say(tmp_path):
    default = make_site(tmp_path / "default").config.mail
    assert default.security is Security.STARTTLS and default.bounce is Bounce.RCPT
    config = (  # smtp: a public base_url and From (tests/test_mail_rfc8058.py)
        "[site]\nbase_url = 'https://notes.example.org/'\n[mail]\ntransport = 'smtp'\n"
        "from_address = 'digest@notes.example.org'\nsecurity = 'tls'\nbounce = 'never'\n"
    )
    mail = make_site(tmp_path / "set", config=config).config.mail
    assert mail.transport == "smtp" and mail.table("smtp") is None
    assert mail.security is Security.TLS and mail.bounce is Bounce.NEVER
    assert f"{mail.security}" == "tls"  # as logs and messages show it


def test_readers_choices_default_to_what_every_site_had_and_read_as_written(tmp_path):
    digest = make_site(tmp_path / "default").config.digest
    assert (digest.monthly, digest.cadence, digest.topics) == ("", Cadence.WEEKLY, ())
    config = (
        "[digest]\nschedule = 'tue 08:30'\nmonthly = 'Last TUE 08:30'\ncadence = 'monthly'\n"
        "topics = ['Adoption', 'Leaving care']\n"
    )
    digest = make_site(tmp_path / "chosen", config=config).config.digest
    assert (digest.monthly, digest.cadence) == ("Last TUE 08:30", Cadence.MONTHLY)
    assert digest.topics == ("Adoption", "Leaving care")
