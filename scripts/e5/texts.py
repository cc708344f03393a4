"""The accuracy texts for multilingual-e5-small (tests/fixtures/e5/texts.jsonl): written for this
test, never used to choose what pruning keeps. Rerun: python3 scripts/e5/texts.py > tests/fixtures/e5/texts.jsonl
Categories: zh-query, zh-title, en-query, en-title, mixed, emoji, fullwidth, long, empty (kept
scripts: token parity and cosines are asserted) and ja, ko, ru (dropped scripts: reported)."""
import json

ZH_QUERIES = """手机壳 透明
无线蓝牙耳机 降噪
女士连衣裙 夏季
男士运动鞋 跑步
儿童保温杯
电饭煲 智能 家用
口红 哑光 不掉色
洗面奶 控油 男
笔记本电脑 轻薄 学生
机械键盘 青轴
猫粮 幼猫
狗狗玩具 耐咬
婴儿纸尿裤 L码
防晒霜 SPF50
羽绒服 女 长款
空气净化器 除甲醛
扫地机器人 推荐
咖啡豆 中度烘焙
绿茶 明前 龙井
充电宝 20000毫安 快充
平板电脑保护套
加湿器 静音 卧室
瑜伽垫 加厚 防滑
电动牙刷 声波
面膜 补水 保湿
双肩包 大容量 旅行
游戏鼠标 无线
茶具套装 陶瓷
榨汁机 便携
不粘锅 炒锅
便宜又好用的洗发水
送女朋友的生日礼物
适合油皮的粉底液
孕妇可以用的护肤品
小户型沙发 布艺
儿童绘本 3-6岁
高考复习资料 数学
宠物自动喂食器
汽车脚垫 全包围
露营帐篷 防雨
钓鱼竿 碳素 超轻
吹风机 负离子 大功率
保温饭盒 上班族
纯棉四件套 床上用品
真丝睡衣 女
冬季加绒卫衣
跑步机 家用 折叠
智能手表 心率监测
投影仪 家用 高清
路由器 千兆 穿墙
显示器 27寸 4K
电竞椅 人体工学
儿童自行车 带辅助轮
坚果礼盒 年货
螺蛳粉 正宗 柳州
月饼 五仁
牛肉干 内蒙古 手撕
红酒 干红 进口
白酒 酱香型
奶粉 一段 新生儿
哪款冰箱最省电
洗衣机 滚筒 10公斤
台灯 护眼 学生
拖把 免手洗
收纳箱 塑料 大号
行李箱 20寸 登机
墨镜 偏光 男
项链 纯银 女
手链 黄金
香水 女士 淡香
""".strip().splitlines()

ZH_TITLES = """Apple iPhone 15 Pro Max 256GB 原色钛金属 支持移动联通电信5G 双卡双待手机
小米 Redmi Note 13 5G 一亿像素 超细四窄边OLED直屏 8GB+256GB 子夜黑
华为 HUAWEI Mate 60 Pro 12GB+512GB 雅川青 卫星通话 鸿蒙智能手机
【官方正品】兰蔻小黑瓶精华肌底液 50ml 修护保湿 提亮肤色
雅诗兰黛特润修护肌活精华露 第七代小棕瓶 50ml
耐克 NIKE Air Zoom Pegasus 40 男子公路跑步鞋 黑白 42码
阿迪达斯 adidas 三叶草 经典款 男女同款 运动卫衣
美的 电饭煲 4L 智能预约 家用多功能 IH电磁加热 MB-HS4075
九阳 破壁机 家用多功能 加热豆浆机 料理机 L18-P132
戴森 Dyson V12 Detect Slim 手持无线吸尘器 激光探测
三只松鼠 每日坚果 750g/30袋 混合果仁 零食大礼包
良品铺子 猪肉脯 靖江风味 200g 休闲零食
蒙牛 特仑苏 纯牛奶 250ml×16盒 整箱装
农夫山泉 饮用天然水 550ml×24瓶 整箱
好奇 Huggies 金装纸尿裤 L76片 婴儿尿不湿 超薄透气
飞鹤 星飞帆 婴幼儿配方奶粉 1段 700g 罐装
安踏 男鞋 跑步鞋 2024夏季新款 透气网面 减震运动鞋
李宁 羽毛球拍 全碳素 超轻 单拍 雷霆系列
南极人 纯棉四件套 全棉被套床单 1.8m床 简约条纹
罗莱家纺 蚕丝被 冬被 加厚保暖 200×230cm
格力 空调 1.5匹 新一级能效 变频冷暖 壁挂式 云佳
海尔 冰箱 双开门 对开门 一级能效 风冷无霜 535升
联想 ThinkPad X1 Carbon 14英寸 轻薄笔记本电脑 i7 16G 1T
华硕 天选5 Pro 16英寸 电竞游戏本 RTX4060 2.5K 165Hz
罗技 Logitech MX Master 3S 无线蓝牙鼠标 静音 办公
索尼 SONY WH-1000XM5 头戴式无线降噪耳机 铂金银
漫步者 EDIFIER 蓝牙耳机 真无线 入耳式 降噪 长续航
得力 deli 中性笔 0.5mm 黑色 12支装 办公文具
晨光 M&G 考试专用 涂卡铅笔 2B 学生用
百草味 芒果干 100g×3袋 蜜饯果干 休闲零食
卫龙 辣条 大面筋 106g×10袋 儿时怀旧零食
茅台 飞天 53度 酱香型白酒 500ml 单瓶装
张裕 解百纳 干红葡萄酒 750ml 国产红酒
立白 洗衣液 薰衣草香 2kg×2瓶 家庭装
维达 抽纸 超韧 3层130抽×24包 整箱
欧莱雅 男士 控油 洗面奶 100ml 去黑头 清爽
完美日记 口红 小细跟 哑光 显白 #M01
花西子 空气蜜粉 散粉 定妆 控油 持久
珀莱雅 双抗精华 第二代 30ml 抗氧化 提亮
薇诺娜 舒敏保湿特护霜 50g 敏感肌 修护屏障
皇家 ROYAL CANIN 幼猫猫粮 2kg 营养增肥
伯纳天纯 狗粮 成犬 中大型犬 15kg
小熊 电热饭盒 上班族 可插电 加热 保温 双层
苏泊尔 不粘锅 炒锅 家用 少油烟 燃气电磁炉通用 32cm
膳魔师 THERMOS 保温杯 男女 不锈钢 大容量 500ml
乐高 LEGO 积木 城市系列 消防局 60320 男孩女孩玩具
迪士尼 冰雪奇缘 儿童书包 小学生 一二三年级 护脊减负
小天才 儿童电话手表 Z9 少儿 4G全网通 视频通话
大疆 DJI Mini 4 Pro 迷你航拍无人机 全向避障
佳能 Canon EOS R50 微单相机 18-45mm 套机 Vlog
Kindle Paperwhite 5 电子书阅读器 6.8英寸 16G 黑色
星巴克 Starbucks 中度烘焙 咖啡豆 200g 派克市场
三顿半 精品速溶咖啡 超即溶 数字星球 24颗
元气森林 苏打气泡水 白桃味 480ml×15瓶
波司登 羽绒服 女 中长款 连帽 加厚 冬季 保暖外套
优衣库 UNIQLO 男装 摇粒绒 拉链开衫 长袖 外套
太平鸟 女装 法式 碎花 连衣裙 2024夏季新款 收腰
骆驼 CAMEL 户外 冲锋衣 三合一 两件套 防风防水
探路者 帐篷 户外 3-4人 双层 防雨 野营
迪卡侬 瑜伽垫 加厚 10mm 防滑 健身垫 初学者
小米 米家 扫地机器人 2 扫拖一体 激光导航
飞利浦 电动牙刷 成人 声波震动 HX6730 情侣款
松下 吹风机 负离子 大功率 家用 速干 EH-NA98
""".strip().splitlines()

EN_QUERIES = """transparent phone case
wireless noise cancelling headphones
summer dress for women
men's running shoes size 10
kids water bottle with straw
rice cooker small
matte lipstick long lasting
face wash for oily skin
lightweight laptop for college students
mechanical keyboard blue switches
kitten food grain free
durable dog chew toys
baby diapers size 3
sunscreen spf 50 sensitive skin
long winter puffer jacket women
air purifier for bedroom
best robot vacuum for pet hair
medium roast coffee beans
green tea loose leaf
portable charger fast charging
yoga mat thick non slip
electric toothbrush with timer
hydrating face mask
large travel backpack
gaming mouse wireless
ceramic tea set
cheap shampoo that works
birthday gift for girlfriend
foundation for oily skin
cotton bed sheets queen
silk pajamas for women
folding treadmill for home
smart watch heart rate monitor
home projector 1080p
27 inch 4k monitor
ergonomic office chair
kids bike with training wheels
nut gift basket
instant noodles spicy
red wine gift set
""".strip().splitlines()

EN_TITLES = """Apple iPhone 15 Pro Max, 256GB, Natural Titanium - Unlocked
Samsung Galaxy S24 Ultra Cell Phone, 512GB Smartphone, Titanium Black
Sony WH-1000XM5 Wireless Industry Leading Noise Canceling Headphones, Silver
Anker Portable Charger, 20,000mAh Power Bank with 22.5W Fast Charging
Logitech MX Master 3S Wireless Performance Mouse, Ergonomic, Quiet Clicks
Nike Men's Air Zoom Pegasus 40 Running Shoes, Black/White
Levi's Women's 501 Original Fit Jeans, Medium Wash
The North Face Women's Arctic Parka, Waterproof Insulated Winter Coat
CeraVe Hydrating Facial Cleanser for Normal to Dry Skin, 16 Fluid Ounce
Neutrogena Ultra Sheer Dry-Touch Sunscreen Lotion, SPF 70, 3 fl. oz
L'Oreal Paris Voluminous Lash Paradise Mascara, Blackest Black
Maybelline SuperStay Matte Ink Liquid Lipstick, Long Lasting, Pioneer
Instant Pot Duo 7-in-1 Electric Pressure Cooker, 6 Quart, Stainless Steel
KitchenAid Artisan Series 5-Quart Tilt-Head Stand Mixer, Empire Red
Ninja Professional Countertop Blender, 1000 Watts, 72 oz Pitcher
Keurig K-Classic Coffee Maker, Single Serve K-Cup Pod Brewer
Dyson V15 Detect Cordless Vacuum Cleaner with Laser Dust Detection
iRobot Roomba 694 Robot Vacuum, Wi-Fi Connectivity, Good for Pet Hair
LEGO City Fire Station Building Set with Fire Truck Toy, Ages 6+
Purina Pro Plan Adult Dry Dog Food, Chicken and Rice Formula, 35 lb Bag
Pampers Swaddlers Disposable Baby Diapers, Size 3, 168 Count
Hydro Flask Standard Mouth Water Bottle with Flex Cap, 21 oz, Pacific
YETI Rambler 20 oz Tumbler, Stainless Steel, Vacuum Insulated with MagSlider Lid
Kindle Paperwhite 16 GB, 6.8 inch display, adjustable warm light
Canon EOS R50 Mirrorless Vlogging Camera with RF-S 18-45mm Lens
Bose QuietComfort Ultra Wireless Earbuds, Noise Cancelling, Black
Amazon Basics Microfiber Bed Sheet Set, Queen, Dark Grey
Manduka PRO Yoga Mat, 6mm Thick, Non-Slip, Black Magic
Philips Sonicare 4100 Rechargeable Electric Toothbrush with Pressure Sensor
Crayola Washable Markers, 40 Count, Assorted Colors, Back to School Supplies
Starbucks Medium Roast Whole Bean Coffee, Pike Place Roast, 28 oz Bag
Twinings English Breakfast Black Tea Bags, 100 Count
Nature Valley Crunchy Granola Bars, Oats 'n Honey, 49 Bars
Samsonite Freeform Hardside Expandable Luggage with Spinner Wheels, 21 Inch
Ray-Ban RB2140 Original Wayfarer Polarized Sunglasses
Pandora Moments Sterling Silver Snake Chain Bracelet
Chanel Coco Mademoiselle Eau de Parfum Spray for Women, 3.4 Oz
Herschel Little America Laptop Backpack, 25L, Black
Razer DeathAdder V3 Pro Wireless Gaming Mouse, 63g Ultra-Lightweight
Secretlab TITAN Evo Gaming Chair, Ergonomic, Memory Foam Head Pillow
""".strip().splitlines()

MIXED = """iPhone 15 手机壳 透明
AirPods Pro 2 保护套 硅胶
Nike Air Max 男鞋 41码
SK-II 神仙水 230ml
Switch OLED 游戏机 日版 续航增强
MacBook Air M2 13英寸 贴膜
Type-C 数据线 快充 2米
iPad Pro 12.9 键盘 保护壳
Dior 999 口红 正红色
Estee Lauder 小棕瓶 精华 50ml
USB 3.0 读卡器 SD TF
GoPro Hero 12 运动相机 防水壳
YSL 圣罗兰 小金条 21
Coach 女包 托特包 大号
PS5 光驱版 国行
LG 27寸 4K 显示器 IPS
Adidas Ultraboost 跑鞋 女
Kindle 保护套 防摔
Uniqlo 优衣库 UT 印花T恤
Redmi K70 Pro 手机 12+256
vivo X100 Pro 蔡司影像 5G手机
OPPO Find X7 Ultra 哈苏 双潜望
Lululemon Align 瑜伽裤 女 高腰
Sony A7M4 全画幅微单 套机
Beats Studio Buds 真无线 降噪耳机
双十一 iPhone 优惠券 怎么用
best 蓝牙耳机 under 500元
有没有 cheap 的 laptop 推荐
这个 case 适合 iPhone 14 吗
送 boyfriend 的 gift 推荐
Costco 会员 卡 办理
NBA 球衣 詹姆斯 湖人 23号
Wi-Fi 6 路由器 AX3000
Bluetooth 5.3 蓝牙适配器
SPF50+ PA++++ 防晒霜 户外
4K HDR 投影仪 家用 1080P
iPhone15ProMax手机壳磁吸
小米14Ultra保护膜钢化
M2芯片MacBookAir学生优惠
Vitamin C 维生素C 泡腾片 橙味
""".strip().splitlines()

EMOJI = """🔥爆款 手机壳 iPhone 15 📱
❤️ 情人节礼物 送女友 🎁
新品上市 🆕 限时折扣 50% OFF 🛒
👗 夏季连衣裙 碎花 🌸
Best seller 🔥🔥🔥 wireless earbuds 🎧
☕ 咖啡豆 中度烘焙 ⭐⭐⭐⭐⭐
🐱 猫粮 幼猫 成猫 通用 🐟
Christmas sale 🎄🎅 up to 70% off
👍 好评如潮 销量第一 💯
🍓草莓味 酸奶 🥛 低脂
🚀 Fast shipping ✈️ worldwide 🌍
🎮 游戏手柄 无线 Switch PC 通用
🏃‍♀️ 跑步鞋 女 轻便 透气 👟
💄口红套装 💋 礼盒装
🌙 助眠 香薰 蜡烛 🕯️ 薰衣草
👶🍼 婴儿 奶瓶 防胀气
""".strip().splitlines()

FULLWIDTH = """ｉＰｈｏｎｅ　１５　手机壳
ＮＩＫＥ　运动鞋　４２码
１００％纯棉　Ｔ恤　ＸＬ
ＵＳＢ　Ｔｙｐｅ－Ｃ　数据线
价格：￥１９９．００（包邮）
【正品保证】ＳＫ－ＩＩ　神仙水
ＦＵＬＬＷＩＤＴＨ　ＬＥＴＴＥＲＳ　ａｎｄ　ｄｉｇｉｔｓ　１２３
「限时特惠」满３００减５０！
容量：５００ｍｌ／瓶，共１２瓶
型号：ＡＢＣ－１２３４５　颜色：黑色
尺寸～约３０ｃｍ×２０ｃｍ
满２件打８折～～
商品编号：№１２３４５６　Ⅻ月新品
①防水　②防摔　③防尘
半角ｶﾀｶﾅ　与　全角カタカナ　混排
""".strip().splitlines()

JA = """スマホケース 透明 iPhone 15 対応
ワイヤレスイヤホン ノイズキャンセリング
レディース ワンピース 夏 花柄
メンズ ランニングシューズ 軽量
日焼け止め SPF50 敏感肌用
コーヒー豆 中煎り 500g
猫用 キャットフード 子猫
電気ケトル おしゃれ 1.0L
""".strip().splitlines()

KO = """투명 휴대폰 케이스 아이폰 15
무선 블루투스 이어폰 노이즈 캔슬링
여성 여름 원피스 꽃무늬
남성 러닝화 가벼운
자외선 차단제 민감성 피부
원두 커피 미디엄 로스트
고양이 사료 새끼 고양이
""".strip().splitlines()

RU = """прозрачный чехол для телефона
беспроводные наушники с шумоподавлением
летнее платье для женщин
мужские кроссовки для бега
солнцезащитный крем SPF 50
кофе в зернах средней обжарки
корм для котят
""".strip().splitlines()

LONG = ("这款保温杯采用304不锈钢内胆，真空隔热，保温保冷效果长达12小时。杯身轻巧便携，适合上班、旅行和户外运动。"
        "The vacuum insulated bottle keeps drinks hot or cold for hours and fits most cup holders. ") * 14

def rows():
    # Queries get the query prefix, titles and copy the passage prefix, as the SDK applies them.
    for cat, role, texts in [
        ("zh-query", "query", ZH_QUERIES), ("zh-title", "passage", ZH_TITLES),
        ("en-query", "query", EN_QUERIES), ("en-title", "passage", EN_TITLES),
        ("mixed", "query", MIXED[:25]), ("mixed", "passage", MIXED[25:]),
        ("emoji", "passage", EMOJI), ("fullwidth", "passage", FULLWIDTH),
        ("ja", "query", JA), ("ko", "query", KO), ("ru", "query", RU),
    ]:
        for t in texts:
            yield {"cat": cat, "role": role, "text": t}
    # Titles also as queries, and queries also as passages: the two prefixes on the same texts.
    for t in ZH_QUERIES[:20] + EN_QUERIES[:10]:
        yield {"cat": "zh-query" if not t.isascii() else "en-query", "role": "passage", "text": t}
    yield {"cat": "control", "role": "passage", "text": "手机壳\t透明\n\u200b包邮\u00a0 现货  ▁ 特价\ufeff"}
    yield {"cat": "long", "role": "passage", "text": LONG}
    yield {"cat": "empty", "role": "passage", "text": ""}
    yield {"cat": "empty", "role": "query", "text": ""}

if __name__ == "__main__":
    for r in rows():
        print(json.dumps(r, ensure_ascii=False))
