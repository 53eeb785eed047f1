import pytest

from shipdesk.tenancy.validators import bank_account_is_valid, inn_is_valid


@pytest.mark.parametrize("inn", ["7707083893", "7736207543", "500100732259"])
def test_real_inns_pass(inn):
    assert inn_is_valid(inn)


@pytest.mark.parametrize("inn", ["7707083894", "123", "77070838931", "50010073225X", ""])
def test_wrong_inns_fail(inn):
    assert not inn_is_valid(inn)


def test_bank_account_control_key_uses_bik():
    # Sberbank's published details: BIK 044525225, account 40702810438000000001 style checks
    assert bank_account_is_valid("40702810400000000003", "044525225") is (
        sum(int(d) * w for d, w in zip("225" + "40702810400000000003",
                                       (7, 1, 3) * 7 + (7, 1), strict=True)) % 10 == 0)
    assert not bank_account_is_valid("4070281040000000000", "044525225")
