"""Sales made on outside platforms (Douyin, Kuaishou, Pinduoduo, Taobao, ...), imported from
their order exports: each platform's file layout and its traps, the station's map of the
platform's product ids to its SKUs, and the import, which records each sale through the orders'
and payments' own batch functions, tied to the livestream session it was made in.
"""
