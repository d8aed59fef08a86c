"""The app factory, configuration and health check."""


def test_healthz_answers_when_database_is_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_secret_key_is_generated_once_and_kept(tmp_path, database_url):
    from newsletter import create_app

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    first = create_app(config).config["SECRET_KEY"]
    second = create_app(config).config["SECRET_KEY"]
    assert first == second and len(first) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_unknown_page_is_a_friendly_404_in_the_visitors_language(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "ru"})
    assert response.status_code == 404
    assert b'lang="ru"' in response.data
