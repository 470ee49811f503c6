"""业主档案: customers (owners, tenants, family members, shop tenants) and their links to units."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, relationship

from .base import (
    Base,
    IdMixin,
    LabeledEnum,
    ProjectScoped,
    TimestampMixin,
    VersionedMixin,
    col,
    enum_type,
    trigram_indexes,
)

if TYPE_CHECKING:
    from .org import Project, Unit


class CustomerKind(LabeledEnum):
    PERSON = "person", "个人"
    COMPANY = "company", "单位"


class UnitRelation(LabeledEnum):
    OWNER = "owner", "业主"
    TENANT = "tenant", "租户"
    FAMILY = "family", "家庭成员"
    SHOP_TENANT = "shop_tenant", "商户"


class Customer(IdMixin, ProjectScoped, TimestampMixin, VersionedMixin, Base):
    """客户: a person or company the department serves. ID number and phone are personal data (PIPL):
    masked in lists and exports, shown in full only to roles granted it, and every full view is logged."""

    __tablename__ = "customer"
    __label__ = "客户"
    __project_index__ = False  # the three below lead with it
    __table_args__ = (
        Index(None, "project_id", "name"),
        Index(None, "project_id", "phone"),
        Index(None, "project_id", "id_number"),
        *trigram_indexes("customer", "name"),
    )

    name: Mapped[str] = col("姓名", String(64))
    kind: Mapped[CustomerKind] = col("客户类型", enum_type(CustomerKind), default=CustomerKind.PERSON)
    phone: Mapped[str] = col("手机号", String(20), default="", info={"pii": "phone"})
    id_number: Mapped[str] = col("身份证号", String(18), default="", info={"pii": "id_number"})
    vip: Mapped[bool] = col("VIP", Boolean, default=False, doc="保密信息，仅限客服经理及以上查看")
    emergency_contact: Mapped[str] = col("紧急联系人", String(64), default="")
    note: Mapped[str] = col("备注", Text, default="")
    # The import that created the customer: its 变更记录 shows that batch's one audit row for all it created.
    # Not indexed: nothing lists by it (batches are never deleted), and each imported row would pay for it.
    batch_id: Mapped[int | None] = col("导入批次", ForeignKey("import_batch.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(info={"label": "项目"})
    unit_links: Mapped[list[UnitCustomer]] = relationship(back_populates="customer", info={"label": "房屋"})


class UnitCustomer(IdMixin, ProjectScoped, VersionedMixin, Base):
    """房屋与客户的关系 (业主/租户/家庭成员/商户) with the dates it holds."""

    __tablename__ = "unit_customer"
    __label__ = "房屋客户"
    __table_args__ = (UniqueConstraint("unit_id", "customer_id", "relation"),)

    # No index of its own on unit_id (the unique constraint leads with it) nor on relation (four values, read
    # through the unit or the customer): each cost every imported link a write (issue 17).
    unit_id: Mapped[int] = col("房屋", ForeignKey("unit.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = col("客户", ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    relation: Mapped[UnitRelation] = col("关系", enum_type(UnitRelation), default=UnitRelation.OWNER)
    is_primary: Mapped[bool] = col("主要联系人", Boolean, default=True)
    start_date: Mapped[dt.date | None] = col("起始日期", Date)
    end_date: Mapped[dt.date | None] = col("终止日期", Date)
    batch_id: Mapped[int | None] = col("导入批次", ForeignKey("import_batch.id", ondelete="SET NULL"))  # as the customer's

    unit: Mapped[Unit] = relationship(info={"label": "房屋"})
    customer: Mapped[Customer] = relationship(back_populates="unit_links", info={"label": "客户"})
    project: Mapped[Project] = relationship(info={"label": "项目"})
