"""The rules of user administration hold at every door: the terminal obeys what the pages obey.

They used to live in the web's administration module, so ``hggis user revoke admin
--disable`` could disable the last city administrator and a disabled user could still be
issued a token from the terminal. Each test starts from an empty database and uses the
``hggis user`` command only.
"""

from __future__ import annotations

from sqlalchemy import select

from hggis.access.tables import ApiToken, User
from hggis.db.models import table_of


def test_the_last_active_administrator_cannot_be_disabled_from_the_terminal(cli, clean_db) -> None:
    assert cli("user", "add", "admin", "--role", "city_admin").exit_code == 0
    refused = cli("user", "revoke", "admin", "--disable")
    assert refused.exit_code == 1
    assert "last active city_admin" in refused.output
    u = table_of(User)
    with clean_db.connect() as conn:
        assert conn.execute(select(u.c.active).where(u.c.username == "admin")).scalar_one() is True
        # all or nothing: the tokens the same command would have revoked are still live
        t = table_of(ApiToken)
        assert conn.execute(select(t.c.revoked_at).select_from(t)).scalars().all() == [None]
    assert cli("user", "add", "deputy", "--role", "city_admin").exit_code == 0
    assert cli("user", "revoke", "admin", "--disable").exit_code == 0
    with clean_db.connect() as conn:
        assert conn.execute(select(u.c.active).where(u.c.username == "admin")).scalar_one() is False


def test_a_disabled_user_gets_no_token_from_the_terminal(cli, clean_db) -> None:
    assert cli("user", "add", "admin", "--role", "city_admin").exit_code == 0
    assert cli("user", "add", "wang", "--role", "city_admin").exit_code == 0
    assert cli("user", "revoke", "wang", "--disable").exit_code == 0
    refused = cli("user", "token", "wang")
    assert refused.exit_code == 1 and "wang is disabled" in refused.output
    assert "hggis_" not in refused.output


def test_refusals_name_the_field_and_say_it_in_chinese_for_the_page(cli, clean_db) -> None:
    from hggis.access.users import UserError, create_user
    from hggis.db.session import transaction

    for args, field, shown in (
        (("Bad Name", "city_admin"), "username", "用户名须为"),
        (("wang", "county_officer"), "counties", "至少选择一个县"),
        (("wang", "mayor"), "role", "请选择角色"),
    ):
        try:
            with transaction(clean_db, "test", "refused") as conn:
                create_user(conn, None, *args)
        except UserError as exc:
            assert exc.field == field and shown in exc.shown
        else:
            raise AssertionError(f"{args} was accepted")
    try:
        with transaction(clean_db, "test", "refused") as conn:
            create_user(conn, None, "wang", "city_admin", phone="call me")
    except UserError as exc:
        assert exc.field == "phone" and "电话号码" in exc.shown
    else:
        raise AssertionError("a phone of words was accepted")
