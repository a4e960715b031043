"""The channels report as the API serves it (beside ``schemas``, which holds the income
report and the close it shares)."""

from marshmallow import Schema, fields

from marketplace.reports.schemas import PeriodOut, RegionRefOut, frozen_by


class ChannelFiguresOut(Schema):
    orders = fields.Integer()
    gross_fen = fields.Integer()
    refunds_fen = fields.Integer()
    net_fen = fields.Integer()
    attributed_fen = fields.Integer(
        metadata={"description": "What those sales attributed to registered households."}
    )


class ChannelRowOut(ChannelFiguresOut):
    channel = fields.String(
        metadata={
            "description": "web, station_counter, unit_procurement, livestream, or "
            "imported:<platform> (imported:douyin ...)."
        }
    )


class SessionRowOut(ChannelFiguresOut):
    session_id = fields.Integer()
    code = fields.String()
    title = fields.String()
    platform = fields.String()


class ChildRegionRowOut(ChannelFiguresOut):
    region_id = fields.Integer()
    name = fields.String()
    level = fields.String()


class ChannelReportOut(Schema):
    region = fields.Nested(RegionRefOut)
    period = fields.Nested(PeriodOut)
    currency = fields.String()
    totals = fields.Nested(ChannelFiguresOut)
    by_channel = fields.List(fields.Nested(ChannelRowOut))
    by_session = fields.List(fields.Nested(SessionRowOut))
    by_region = fields.List(
        fields.Nested(ChildRegionRowOut),
        metadata={
            "description": "Each child region's sales (the region itself at village level): "
            "a sale is placed by its product's village of origin, so the money of the rows "
            "sums to the totals. Orders are counted once per region they sold from."
        },
    )
    close = frozen_by()
