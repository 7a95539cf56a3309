"""The clinic's billing settings as plain values (read once from the Flask config by the entry
points): what a visit bills, VAT per line kind, the bank account behind the VietQR code, and the
card gateways' keys. Secrets come from the environment only."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping

# Medical examination and treatment is VAT-exempt in Vietnam; medicines are commonly 5 %.
DEFAULT_VAT = {"service": Decimal(0), "lab": Decimal(0), "medicine": Decimal(5), "other": Decimal(10)}


def _rate(config: Mapping, kind: str) -> Decimal:
    value = config.get(f"BILLING_VAT_{kind.upper()}")
    return DEFAULT_VAT[kind] if value in (None, "") else Decimal(str(value))


@dataclass(frozen=True)
class BillingSettings:
    currency: str = "VND"
    charge_consultation_fee: bool = True  # BILLING_CHARGE_CONSULTATION_FEE: the doctor's fee on each visit
    vat_rates: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_VAT))
    invoice_prefix: str = "HD"  # BILLING_INVOICE_PREFIX: HD2026-000001
    tax_code: str = ""  # CLINIC_TAX_CODE (mã số thuế), printed on invoices
    # VietQR (NAPAS 247): the bank's BIN (6 digits), the account number and the holder's name.
    bank_bin: str = ""
    bank_account: str = ""
    bank_account_name: str = ""
    bank_name: str = ""
    # Stripe Checkout (card): secret key, webhook signing secret, API base (a local server in tests).
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    # VNPay: terminal code, HMAC-SHA512 secret, the payment page and the merchant API (refunds).
    vnpay_tmn_code: str = ""
    vnpay_hash_secret: str = ""
    vnpay_pay_url: str = "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html"
    vnpay_api_url: str = "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction"
    email_on_issue: bool = True  # BILLING_EMAIL_ON_ISSUE
    email_on_payment: bool = True  # BILLING_EMAIL_ON_PAYMENT

    @property
    def vietqr_enabled(self) -> bool:
        return bool(self.bank_bin and self.bank_account)

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def vnpay_enabled(self) -> bool:
        return bool(self.vnpay_tmn_code and self.vnpay_hash_secret)

    def vat_rate(self, kind: str) -> Decimal:
        return Decimal(self.vat_rates.get(kind, Decimal(0)))

    @classmethod
    def from_config(cls, config: Mapping) -> "BillingSettings":
        def flag(name: str, default: bool) -> bool:
            value = config.get(name, default)
            return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")

        return cls(
            currency=config.get("CLINIC_CURRENCY", "VND"),
            charge_consultation_fee=flag("BILLING_CHARGE_CONSULTATION_FEE", True),
            vat_rates={kind: _rate(config, kind) for kind in DEFAULT_VAT},
            invoice_prefix=config.get("BILLING_INVOICE_PREFIX") or "HD",
            tax_code=config.get("CLINIC_TAX_CODE") or "",
            bank_bin=config.get("VIETQR_BANK_BIN") or "",
            bank_account=config.get("VIETQR_ACCOUNT_NO") or "",
            bank_account_name=config.get("VIETQR_ACCOUNT_NAME") or "",
            bank_name=config.get("VIETQR_BANK_NAME") or "",
            stripe_secret_key=config.get("STRIPE_SECRET_KEY") or "",
            stripe_webhook_secret=config.get("STRIPE_WEBHOOK_SECRET") or "",
            stripe_api_base=config.get("STRIPE_API_BASE") or "",
            vnpay_tmn_code=config.get("VNPAY_TMN_CODE") or "",
            vnpay_hash_secret=config.get("VNPAY_HASH_SECRET") or "",
            vnpay_pay_url=config.get("VNPAY_PAY_URL") or cls.vnpay_pay_url,
            vnpay_api_url=config.get("VNPAY_API_URL") or cls.vnpay_api_url,
            email_on_issue=flag("BILLING_EMAIL_ON_ISSUE", True),
            email_on_payment=flag("BILLING_EMAIL_ON_PAYMENT", True),
        )
