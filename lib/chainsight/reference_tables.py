"""Fixed reference tables the synthetic retailer is built from: cities, personas,
product families and the festival calendar. Plain data, no logic."""

from __future__ import annotations

import pandas as pd

# Real cities: longitude, latitude (city centre, degrees), tier (the common
# 1 / new-1 / 2 / 3 ranking) and resident population in millions (2020 census,
# rounded), used as the weight with which customers live there.
CITIES = pd.DataFrame(
    [
        ("Beijing", 116.407, 39.904, "1", 21.9),
        ("Shanghai", 121.474, 31.230, "1", 24.9),
        ("Guangzhou", 113.264, 23.129, "1", 18.7),
        ("Shenzhen", 114.058, 22.543, "1", 17.6),
        ("Chengdu", 104.066, 30.573, "new-1", 20.9),
        ("Chongqing", 106.551, 29.563, "new-1", 32.1),
        ("Hangzhou", 120.155, 30.274, "new-1", 11.9),
        ("Wuhan", 114.305, 30.593, "new-1", 12.3),
        ("Suzhou", 120.585, 31.299, "new-1", 12.7),
        ("Xi'an", 108.940, 34.341, "new-1", 12.9),
        ("Nanjing", 118.797, 32.060, "new-1", 9.3),
        ("Changsha", 112.939, 28.228, "new-1", 10.0),
        ("Tianjin", 117.201, 39.085, "new-1", 13.9),
        ("Zhengzhou", 113.625, 34.747, "new-1", 12.6),
        ("Dongguan", 113.752, 23.021, "new-1", 10.5),
        ("Qingdao", 120.383, 36.067, "new-1", 10.1),
        ("Kunming", 102.833, 24.880, "new-1", 8.5),
        ("Ningbo", 121.550, 29.875, "new-1", 9.4),
        ("Hefei", 117.227, 31.821, "new-1", 9.4),
        ("Foshan", 113.122, 23.022, "2", 9.5),
        ("Shenyang", 123.431, 41.806, "2", 9.1),
        ("Wuxi", 120.312, 31.491, "2", 7.5),
        ("Jinan", 117.121, 36.651, "2", 9.2),
        ("Xiamen", 118.089, 24.480, "2", 5.2),
        ("Fuzhou", 119.296, 26.075, "2", 8.3),
        ("Harbin", 126.535, 45.803, "2", 10.0),
        ("Shijiazhuang", 114.515, 38.042, "2", 11.2),
        ("Dalian", 121.615, 38.914, "2", 7.5),
        ("Nanning", 108.366, 22.817, "2", 8.7),
        ("Guiyang", 106.630, 26.647, "2", 6.0),
        ("Changchun", 125.324, 43.817, "2", 9.1),
        ("Nanchang", 115.858, 28.683, "2", 6.3),
        ("Taiyuan", 112.549, 37.870, "2", 5.3),
        ("Haikou", 110.199, 20.044, "2", 2.9),
        ("Urumqi", 87.617, 43.826, "2", 4.1),
        ("Lanzhou", 103.834, 36.061, "3", 4.4),
        ("Hohhot", 111.749, 40.842, "3", 3.4),
        ("Yinchuan", 106.231, 38.487, "3", 2.9),
        ("Xining", 101.778, 36.617, "3", 2.5),
        ("Luoyang", 112.454, 34.620, "3", 7.1),
        ("Yichang", 111.286, 30.692, "3", 4.0),
        ("Ganzhou", 114.935, 25.831, "3", 9.0),
        ("Liuzhou", 109.416, 24.326, "3", 4.2),
        ("Mianyang", 104.679, 31.468, "3", 4.9),
    ],
    columns=["city", "lon", "lat", "city_tier", "population_m"],
)

# Candidate warehouse cities; "current" marks the network the retailer runs today
# (delivery days in the order lines are computed from it).
SITE_CITIES = {
    "Beijing": True, "Tianjin": False, "Shanghai": True, "Suzhou": False, "Hangzhou": False,
    "Guangzhou": True, "Dongguan": False, "Wuhan": True, "Zhengzhou": False, "Chengdu": True,
    "Chongqing": False, "Xi'an": True, "Shenyang": False, "Jinan": False, "Changsha": False,
    "Kunming": False, "Nanning": False, "Hefei": False, "Urumqi": False, "Lanzhou": False,
}  # fmt: skip

# Annual fixed cost of a warehouse by city tier, CNY (land and labour cost).
SITE_FIXED_COST_CNY = {"1": 12_000_000, "new-1": 9_000_000, "2": 7_000_000, "3": 5_000_000}

CATEGORIES = ("apparel", "electronics", "furniture", "food")

# Product families: category -> (family, median price CNY, price spread (lognormal sigma)).
FAMILIES = {
    "apparel": [("T-shirt", 79, 0.35), ("Dress", 259, 0.4), ("Jacket", 399, 0.4),
                ("Jeans", 199, 0.3), ("Sneakers", 459, 0.35)],
    "electronics": [("Earbuds", 299, 0.5), ("Smartphone", 2999, 0.45), ("Smartwatch", 999, 0.4),
                    ("Tablet", 2499, 0.35), ("Charger", 99, 0.3), ("Laptop", 5999, 0.3)],
    "furniture": [("Sofa", 3999, 0.4), ("Bed frame", 2599, 0.35), ("Wardrobe", 2999, 0.4),
                  ("Desk", 899, 0.35), ("Chair", 499, 0.4), ("Bookshelf", 699, 0.3)],
    "food": [("Tea", 129, 0.5), ("Snack box", 69, 0.35), ("Rice 5kg", 59, 0.2),
             ("Mixed nuts", 89, 0.3), ("Milk powder", 239, 0.3), ("Instant noodles", 39, 0.25)],
}  # fmt: skip
SKUS_PER_CATEGORY = {"apparel": 70, "electronics": 50, "furniture": 40, "food": 60}
# Supplier lead times (days): category -> list of (supplier, min, max).
SUPPLIERS = {
    "apparel": [("Hangzhou Textile", 14, 28), ("Guangzhou Garment", 10, 21),
                ("Quanzhou Shoes", 18, 35)],
    "electronics": [("Shenzhen Devices", 7, 14), ("Dongguan Assembly", 10, 21),
                    ("Suzhou Components", 14, 28)],
    "furniture": [("Foshan Furniture", 21, 35), ("Chengdu Woodworks", 28, 45)],
    "food": [("Shandong Foods", 3, 7), ("Yunnan Tea Co", 5, 12), ("Heilongjiang Grain", 4, 10)],
}  # fmt: skip
SHELF_LIFE_DAYS = {"Tea": 540, "Snack box": 180, "Rice 5kg": 365, "Mixed nuts": 240,
                   "Milk powder": 730, "Instant noodles": 180}  # fmt: skip

# Personas: the hidden customer types that drive behaviour. Tendencies, not rules:
# demographics overlap (every occupation is held by several personas, ages and
# incomes spread across each other), and every individual draws its own rates,
# category mix, ship-mode mix and festival response around the persona's.
# Probabilities are listed in the order given by the *_LEVELS tuples below.
# Purchase rates and dropout are calibrated so that one-time buyers, orders per
# customer and inter-purchase days sit between Online Retail and CDNOW
# (notebook 00, "Calibration").
INCOME_LEVELS = ("low", "middle", "high", "very high")
TIER_LEVELS = ("1", "new-1", "2", "3")
SHIP_LEVELS = ("express", "standard", "economy")
CHANNEL_LEVELS = ("app", "mini_program", "web", "store")

PERSONAS = {
    "urban_professional": dict(
        share=0.18, age=(36, 8), female=0.50, income=(0.05, 0.30, 0.45, 0.20),
        occupation={"professional": 0.28, "manager": 0.18, "civil servant": 0.10,
                    "engineer": 0.12, "office worker": 0.17, "creative": 0.08,
                    "self-employed": 0.07},
        tier=(0.45, 0.32, 0.17, 0.06), categories=(0.32, 0.26, 0.20, 0.22),
        orders_per_year=7.0, dropout=0.28, basket=1.8, price_sensitivity=0.1,
        discount_sensitivity=0.5, festival_response=0.9, event_affinity={},
        ship=(0.62, 0.30, 0.08), channel=(0.55, 0.15, 0.25, 0.05),
        return_rate=0.06, complaint_rate=0.02, customisation=0.15),
    "young_trendsetter": dict(
        share=0.22, age=(28, 6), female=0.62, income=(0.25, 0.50, 0.20, 0.05),
        occupation={"student": 0.28, "service": 0.20, "creative": 0.14, "office worker": 0.20,
                    "professional": 0.08, "engineer": 0.06, "self-employed": 0.04},
        tier=(0.22, 0.38, 0.28, 0.12), categories=(0.55, 0.20, 0.06, 0.19),
        orders_per_year=8.0, dropout=0.38, basket=2.2, price_sensitivity=1.0,
        discount_sensitivity=1.8, festival_response=2.0, event_affinity={"Double 11": 1.3},
        ship=(0.28, 0.55, 0.17), channel=(0.55, 0.35, 0.08, 0.02),
        return_rate=0.18, complaint_rate=0.03, customisation=0.05),
    "family_homemaker": dict(
        share=0.18, age=(38, 8), female=0.62, income=(0.10, 0.50, 0.32, 0.08),
        occupation={"office worker": 0.28, "self-employed": 0.17, "homemaker": 0.17,
                    "civil servant": 0.10, "service": 0.10, "professional": 0.10,
                    "factory worker": 0.08},
        tier=(0.15, 0.32, 0.35, 0.18), categories=(0.22, 0.10, 0.30, 0.38),
        orders_per_year=6.0, dropout=0.26, basket=2.6, price_sensitivity=0.6,
        discount_sensitivity=1.2, festival_response=1.3, event_affinity={},
        ship=(0.22, 0.60, 0.18), channel=(0.40, 0.30, 0.15, 0.15),
        return_rate=0.07, complaint_rate=0.03, customisation=0.25),
    "value_seeker": dict(
        share=0.17, age=(45, 11), female=0.50, income=(0.40, 0.45, 0.13, 0.02),
        occupation={"factory worker": 0.24, "farmer": 0.14, "service": 0.20,
                    "self-employed": 0.12, "office worker": 0.14, "homemaker": 0.08,
                    "retired": 0.08},
        tier=(0.08, 0.20, 0.34, 0.38), categories=(0.32, 0.10, 0.08, 0.50),
        orders_per_year=6.0, dropout=0.36, basket=2.4, price_sensitivity=1.6,
        discount_sensitivity=2.5, festival_response=2.3, event_affinity={},
        ship=(0.08, 0.40, 0.52), channel=(0.45, 0.40, 0.05, 0.10),
        return_rate=0.05, complaint_rate=0.04, customisation=0.02),
    "tech_enthusiast": dict(
        share=0.13, age=(31, 7), female=0.30, income=(0.10, 0.42, 0.36, 0.12),
        occupation={"engineer": 0.33, "student": 0.18, "professional": 0.15,
                    "office worker": 0.16, "creative": 0.10, "manager": 0.08},
        tier=(0.30, 0.40, 0.22, 0.08), categories=(0.15, 0.58, 0.08, 0.19),
        orders_per_year=5.0, dropout=0.28, basket=1.4, price_sensitivity=0.2,
        discount_sensitivity=1.0, festival_response=1.4, event_affinity={"618": 1.8},
        ship=(0.60, 0.32, 0.08), channel=(0.50, 0.10, 0.38, 0.02),
        return_rate=0.08, complaint_rate=0.06, customisation=0.05),
    "silver_shopper": dict(
        share=0.12, age=(55, 10), female=0.55, income=(0.30, 0.48, 0.18, 0.04),
        occupation={"retired": 0.50, "self-employed": 0.12, "homemaker": 0.10,
                    "farmer": 0.08, "civil servant": 0.08, "service": 0.07,
                    "manager": 0.05},
        tier=(0.18, 0.28, 0.32, 0.22), categories=(0.14, 0.10, 0.12, 0.64),
        orders_per_year=5.0, dropout=0.20, basket=2.0, price_sensitivity=0.9,
        discount_sensitivity=1.0, festival_response=1.6, event_affinity={"Spring Festival": 1.6},
        ship=(0.15, 0.50, 0.35), channel=(0.30, 0.45, 0.05, 0.20),
        return_rate=0.03, complaint_rate=0.05, customisation=0.03),
}  # fmt: skip

# Real festival dates for the simulated years (Spring Festival = lunar new year's day).
SPRING_FESTIVAL = {2022: "2022-02-01", 2023: "2023-01-22", 2024: "2024-02-10",
                   2025: "2025-01-29", 2026: "2026-02-17"}  # fmt: skip

# Demand multipliers of the festivals on an average customer:
# (event, window start offset, window end offset, multiplier in window, multiplier on peak days)
# offsets are days relative to the anchor date of the festival.
FESTIVALS = {
    "Spring Festival": ("spring", -16, -2, 1.6, 1.6),  # stocking up before the holiday
    "Spring Festival holiday": ("spring", -1, 6, 0.45, 0.45),  # logistics slow, shops shut
    "618": ("06-18", -17, 0, 1.35, 3.0),  # peak on 16-18 June
    "National Day": ("10-01", 0, 6, 1.25, 1.25),
    "Double 11": ("11-11", -18, 0, 1.3, 5.5),  # peak on 10-11 November
    "Double 12": ("12-12", -2, 0, 1.5, 2.2),
}
PEAK_DAYS = {"618": 3, "Double 11": 2, "Double 12": 1}
