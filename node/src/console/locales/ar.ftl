# وحدة تحكم Liaison — العربية (من اليمين إلى اليسار).
datetime = { $day } { $month } { $year }، { $hour }:{ $minute } UTC
month-1 = يناير
month-2 = فبراير
month-3 = مارس
month-4 = أبريل
month-5 = مايو
month-6 = يونيو
month-7 = يوليو
month-8 = أغسطس
month-9 = سبتمبر
month-10 = أكتوبر
month-11 = نوفمبر
month-12 = ديسمبر
bytes = { $n-count ->
    [one] بايت واحد
    [two] بايتان
    [few] { $n } بايتات
   *[other] { $n } بايت
}

## Layout
skip-to-content = انتقل إلى المحتوى
nav-label = القائمة الرئيسية
nav-inbox = البريد الوارد
nav-compose = رسالة جديدة
nav-status = حالة العقدة
nav-log = سجل التدقيق
language = اللغة
signed-in-as = مسجل الدخول باسم
who-token = حامل رمز واجهة البرمجة
logout = تسجيل الخروج
role-officer = ضابط
role-supervisor = مشرف
role-auditor = مدقق
back-to-inbox = العودة إلى البريد الوارد
back-to-log = العودة إلى السجل

## Login
login-title = تسجيل الدخول
login-intro = يستخدم الضباط الذين لديهم شهادة عنوان HTTPS الخاص بالعقدة. على جهاز العقدة نفسه، سجّل الدخول برمز واجهة البرمجة.
login-token = رمز واجهة البرمجة
login-token-hint = محتوى الملف api.token_file الخاص بالعقدة.
login-submit = دخول

## Inbox
inbox-title = البريد الوارد
inbox-count = { $n-count ->
    [zero] لا رسائل
    [one] رسالة واحدة
    [two] رسالتان
    [few] { $n } رسائل
   *[other] { $n } رسالة
}
inbox-unread = غير المقروءة: { $n }
inbox-shown = عرض { $n } من { $total }، غير المقروءة أولاً
inbox-empty = لا توجد رسائل مطابقة.
filters = عوامل التصفية
filter-any = الكل
filter-apply = تطبيق
filter-clear = مسح عوامل التصفية
filter-unread = غير المقروءة فقط
field-sender = المرسِل
col-tlp = TLP
col-state = الحالة
col-kind = النوع
col-summary = الملخص
col-from = من
col-case = القضية
col-eval = التقييم
col-received = تاريخ الاستلام
unread = جديدة
read = مقروءة
no-text = (بدون نص)
content-hidden = المحتوى غير معروض لدورك.
content-purged = حُذف نص هذه الرسالة وفق سياسة الاحتفاظ؛ تبقى قيود السجل ومسار التسليم.
overdue = متأخرة
request-answered = تمت الإجابة

## Kinds
kind-alert = تنبيه
kind-request = طلب
kind-reply = رد
kind-retraction = سحب
kind-case-open = فتح قضية
kind-case-invite = دعوة إلى قضية
kind-case-join = انضمام إلى قضية
kind-case-update = تحديث قضية
kind-case-task = مهمة في قضية
kind-case-close = إغلاق قضية
kind-case-remove = انسحاب من قضية أو إزالة منها
kind-case-status = تعليق قضية أو استئنافها
kind-share = مشاركة
kind-consent-request = طلب موافقة
kind-consent-answer = رد على طلب موافقة
kind-deconfliction = إشعار بتطابق

## Message
message-title = { $kind }
sent-notice = أُرسلت. الرسالة موقعة ومسجلة في السجل ومدرجة في قائمة الانتظار.
section-handling = قواعد التداول
section-header = الترويسة
section-content = المحتوى
section-entities = الكيانات
section-trail = مسار التسليم
field-id = معرّف الرسالة
field-kind = النوع
field-originator = المصدر
field-recipients = المستلمون
field-created = تاريخ الإنشاء
field-case = القضية
field-in-reply-to = ردًا على
field-role = هذه العقدة
field-from = مستلمة من
field-route = المسار
field-reply-by = الرد قبل
field-language = اللغة
field-h-codes = رموز التداول الأوروبية
field-originator-control = رقابة المصدر (H2)
field-releasability = قابلة للإفصاح إلى
field-eval = التقييم
field-h0 = H0: للاستخدام في منع الجريمة ومكافحتها فقط
field-h1 = H1: لا تُستخدم في الإجراءات القضائية دون إذن المصدر
field-h3 = H3: قيود أخرى
h2-meaning = لا تُمرَّر دون موافقة المصدر.
msg-role-originated = أرسلتها
msg-role-delivered = استلمتها
msg-role-relayed = مرّرتها
col-entity-type = النوع
col-entity-value = القيمة
entity-person = شخص
entity-organisation = منظمة
entity-document = وثيقة
entity-phone = هاتف
entity-email = بريد إلكتروني
entity-vehicle = مركبة
entity-vessel = سفينة
entity-container = حاوية
entity-flight = رحلة جوية
entity-wallet = محفظة مشفرة
entity-location = موقع
entity-event = حدث
ack-button = تأكيد الاستلام
proof-download = تنزيل إثبات التضمين
trail-hops = العقد التالية وإيصالاتها الموقعة
trail-no-hops = لم تُجب أي عقدة بعد.
trail-pending = في انتظار:
trail-entries = قيود السجل
col-peer = العقدة
col-outcome = النتيجة
col-at = الوقت
col-proof = الإيصال
outcome-relayed = مُرِّرت
outcome-delivered = سُلِّمت

## TLP
tlp-meaning-clear = لا قيود على الإفصاح.
tlp-meaning-green = المجتمع المعني، وليست للعموم.
tlp-meaning-amber = منظمات المستلمين وعملاؤها، حسب الحاجة إلى المعرفة.
tlp-meaning-amber-strict = منظمات المستلمين فقط.
tlp-meaning-red = المستلمون المسمَّون فقط.
field-tlp = TLP

## Evaluation
eval-source-a = المصدر موثوق دائمًا
eval-source-b = المصدر موثوق غالبًا
eval-source-c = المصدر غير موثوق غالبًا
eval-source-x = لا يمكن تقييم موثوقية المصدر
eval-info-1 = لا شك في دقتها
eval-info-2 = معروفة للمصدر شخصيًا
eval-info-3 = مؤكدة من جهة أخرى
eval-info-4 = لا يمكن تأكيدها
field-eval-source = المصدر
field-eval-info = المعلومة

## Request urgency
field-urgency = درجة الاستعجال (الطلبات)
urgency-none = —
urgency-urgent = عاجل (٨ ساعات)
urgency-three-days = ثلاثة أيام
urgency-seven-days = سبعة أيام
hint-urgency = للطلبات فقط: موعد الرد.

## Compose
compose-title = رسالة جديدة
compose-message = الرسالة
hint-in-reply-to = للرد أو السحب: معرّف الرسالة الأصلية (٦٤ رقمًا ست عشريًا).
field-to-other = مستلمون آخرون
hint-to-other = معرّفات العقد (centre.network) أو network:الاسم، مفصولة بمسافات أو فواصل.
field-release-other = قابلة للإفصاح أيضًا إلى
hint-release = network:الاسم أو centre:الاسم أو معرّفات العقد. إذا تُرك فارغًا: عقد المستلمين وشبكاتهم.
field-text = النص
field-entities = الكيانات
hint-entities = كيان في كل سطر، بالصيغة type=value: phone=+77011234567، email=…، container=MSCU1234565، person=الاسم.
send-button = توقيع وإرسال
lang-en = الإنجليزية
lang-ru = الروسية
lang-ar = العربية
lang-fr = الفرنسية
lang-es = الإسبانية
lang-zh = الصينية
lang-kk = الكازاخية
lang-ky = القيرغيزية
lang-tg = الطاجيكية
lang-uz = الأوزبكية
lang-tk = التركمانية
lang-fa = الفارسية
lang-ps = البشتو
lang-ur = الأردية

## Status
status-title = حالة العقدة
section-alarms = الإنذارات
section-case-gaps = رسائل القضايا التي لم تُستلم بعد
alarms-none = لا توجد إنذارات.
section-node = هذه العقدة
section-peers = العقد المجاورة
section-checkpoint = آخر نقطة تحقق موقعة
field-node = العقدة
field-listen = عنوان QUIC
field-log-size = قيود السجل
field-log-root = جذر السجل
field-unread = غير المقروءة
field-disk = حجم المخزن على القرص
col-address = العنوان
col-session = الجلسة
col-since = منذ
col-outbox = صندوق الصادر
col-sent = المرسلة
col-receipts = الإيصالات
col-last-error = آخر خطأ
section-expiries = الشهادات وقوائم الإلغاء
col-expiry-what = البند
col-expiry-at = ينتهي في
col-days-left = الأيام المتبقية
expired = منتهٍ
peer-up = متصلة
peer-down = غير متصلة
no-checkpoint = لم تُوقَّع أي نقطة تحقق بعد.

## Audit log
log-title = سجل التدقيق
log-range = القيود { $from }–{ $to } من { $size }
log-shown = { $n-count ->
    [zero] لا قيود معروضة
    [one] قيد واحد معروض، الأحدث أولاً
    [two] قيدان معروضان، الأحدث أولاً
    [few] { $n } قيود معروضة، الأحدث أولاً
   *[other] { $n } قيدًا معروضًا، الأحدث أولاً
}
log-empty = لا توجد قيود مطابقة.
log-verify = التحقق من السجل كاملاً
log-export = تنزيل التصدير (JSON Lines)
log-older = الأقدم ←
log-newer = → الأحدث
log-pages = الصفحات
field-message-id = معرّف الرسالة
field-event-type = الحدث
field-search = يحتوي على
col-index = #
col-event = الحدث
event-sent = أُرسلت
event-received = استُلمت
event-relayed = مُرِّرت
event-refused = رُفضت
event-receipt-sent = أُرسل إيصال
event-receipt-received = استُلم إيصال
event-refusal-received = استُلم رفض
event-acknowledged = أُكِّد الاستلام
event-admin = إدارة
event-purged = حُذفت
event-message = الرسالة
event-from = من
event-to = إلى
event-peer = العقدة
event-status = الحالة
event-reason = السبب
event-by = بواسطة
event-act = الإجراء
event-rule = القاعدة
verify-title = التحقق من السجل
verify-ok = جميع القيود ونقاط التحقق والتوقيعات المشتركة والرسائل المخزنة سليمة.
verify-failed = { $n-count ->
    [one] وُجدت مشكلة واحدة:
    [two] وُجدت مشكلتان:
    [few] وُجدت { $n } مشكلات:
   *[other] وُجدت { $n } مشكلة:
}
verify-entries = القيود
verify-checkpoints = نقاط التحقق المفحوصة
verify-checkpoint-size = ما تغطيه أحدث نقطة تحقق
verify-cosignatures = التوقيعات المشتركة المتحقق منها
verify-messages = الرسائل المتحقق منها
verify-answers = الإيصالات وحالات الرفض المتحقق منها

## Errors
error-code = رمز السبب:
error-detail = التفاصيل:
error-other = تعذّر تنفيذ الطلب.
error-refused = رفضت العقدة الرسالة.
error-unauthenticated = سجّل الدخول أولاً: لا توجد شهادة عميل أو جلسة صالحة.
error-bad-token = هذا ليس رمز واجهة البرمجة الخاص بالعقدة.
error-too-many-attempts = محاولات دخول فاشلة كثيرة من هذا العنوان. انتظر قليلًا ثم حاول مرة أخرى.
error-forbidden-role = لا يسمح دورك بهذا الإجراء.
error-csrf-token-missing = لم يُرسَل النموذج من هذه الوحدة (لا يوجد رمز أمان). أعد تحميل الصفحة وحاول مجددًا.
error-csrf-token-invalid = رمز الأمان في النموذج غير صالح لجلستك. أعد تحميل الصفحة وحاول مجددًا.
error-csrf-cross-origin = أُرسل النموذج من موقع آخر فرُفض.
error-form-too-large = النموذج كبير جدًا.
error-unknown-message = لا تعرف هذه العقدة رسالة بهذا المعرّف.
error-not-in-inbox = لا يمكن تأكيد استلام إلا الرسائل المسلَّمة إلى هذه العقدة.
error-message-purged = حُذف نص هذه الرسالة.
error-no-checkpoint = لم تُوقَّع أي نقطة تحقق بعد.
error-no-such-endpoint = لا توجد صفحة كهذه.
error-method-not-allowed = هذه الصفحة لا تقبل هذا الأسلوب.
error-malformed-request = الطلب غير صحيح.
error-internal-error = حدث عطل في العقدة؛ التفاصيل في سجلها.
error-audit-failed = تعذّر التحقق من السجل.
error-export-failed = تعذّر إنشاء التصدير.
error-no-route = لا يوجد مسار إلى أحد المستلمين.
error-no-sealing-key = مفتاح التشفير لأحد المستلمين غير معروف بعد؛ حاول مجددًا بعد اتصال عقدته.
error-releasability-violation = أحد المستلمين أو العقد الوسيطة خارج نطاق الإفصاح.
error-tlp-red-violation = TLP:RED لا تُرسل إلا إلى عقد المستلمين المسمَّين.
error-tlp-amber-strict-violation = TLP:AMBER+STRICT لا تخرج عن منظمات المستلمين.
error-originator-control = رقابة المصدر تمنع ذلك دون موافقة.
error-invalid-field = قيمة أحد الحقول غير صالحة.
error-invalid-handling = قواعد التداول متناقضة (تحقق من المستلمين وTLP ونطاق الإفصاح).
error-invalid-message = الرسالة كما كُتبت غير صالحة (تحقق من الحقول).
status-400 = طلب غير صحيح
status-401 = لم يُسجَّل الدخول
status-403 = محظور
status-404 = غير موجود
status-405 = أسلوب غير مسموح
status-410 = محذوف
status-413 = كبير جدًا
status-422 = مرفوض
status-500 = خطأ في العقدة

## Cases
nav-cases = القضايا
cases-title = القضايا
cases-empty = لا تشارك هذه العقدة في أي قضية بعد.
col-title = العنوان
col-lead = الجهة الرئيسية
col-standing = الصفة
col-participants = المشاركون
col-updates = التحديثات
col-open-tasks = المهام المفتوحة
col-last-activity = آخر نشاط
col-task = المهمة
col-assignee = المكلَّف
col-due = الموعد
col-note = ملاحظة
field-opened = تاريخ الفتح
section-summary = الملخص
section-participants = المشاركون
section-tasks = المهام
section-updates = التحديثات
section-timeline = التسلسل الزمني
tasks-none = لا توجد مهام.
case-status-open = مفتوحة
case-status-suspended = معلّقة
case-status-closed = مغلقة
standing-lead = الجهة الرئيسية
standing-invited = مدعوّة
standing-participant = مشاركة
standing-declined = اعتذرت
standing-left = انسحبت
standing-removed = أُزيلت
task-status-open = مفتوحة
task-status-in-progress = قيد التنفيذ
task-status-done = منجزة
task-status-cancelled = ملغاة
error-unknown-case = لا تعرف هذه العقدة قضية كهذه.
## Case actions
section-case-actions = إجراءات القضية
case-done = تم: رسالة القضية موقَّعة ومسجَّلة في السجل ومدرجة في قائمة الإرسال إلى أعضاء القضية.
case-not-yet-received = لم يستلمها بعد:
section-case-earlier = رسائل سابقة
case-earlier-rule = يتلقى المشارك رسائل القضية المكتوبة بعد انضمامه. تبقى الرسائل السابقة لدى مشاركي وقتها ما لم يشاركها كاتبها: يشارك كل كاتب رسائله، فيُعاد تشفيرها للمنضم الجديد وتُفحص وفق قواعد تداولها. لا تُشارك التحديثات المرسلة إلى بعض المشاركين فقط.
case-earlier-count = { $n-count ->
    [one] انضم بعد رسالة واحدة من رسائل هذا المركز لم يتلقّها.
    [two] انضم بعد رسالتين من رسائل هذا المركز لم يتلقّهما.
    [few] انضم بعد { $n } رسائل من رسائل هذا المركز لم يتلقّها.
   *[other] انضم بعد { $n } رسالة من رسائل هذا المركز لم يتلقّها.
}
case-earlier-button = شاركها
case-no-effect = بلا أثر
case-open-title = فتح قضية
case-open-case = القضية
field-case-id = رقم القضية
field-case-title = العنوان
hint-case-id = إذا تُرك فارغًا يُنشأ رقم تلقائيًا (المركز-السنة-XXXX).
field-invitees = دعوة
field-nodes-other = عقد أخرى
hint-nodes-other = معرّفات العقد (centre.network) مفصولة بمسافات أو فواصل.
hint-case-release = network:الاسم أو centre:الاسم أو معرّفات العقد. إذا تُرك فارغًا: شبكات هذه العقدة والعقد المدعوّة.
field-summary = نص الملخص
case-open-button = فتح القضية
case-invitation = هذا المركز مدعوّ إلى هذه القضية. بقبول الدعوة يصبح مشاركًا: يتلقى تحديثات القضية ومهامها ويمكنه النشر فيها.
case-accept-button = قبول الدعوة
case-decline-button = اعتذار
case-closed-note = القضية مغلقة؛ والإغلاق نهائي.
case-suspended-note = علّقت الجهة الرئيسية القضية: لا ينشر فيها غيرها حتى تستأنفها.
case-update-legend = نشر تحديث
field-update-to = إلى هؤلاء فقط
hint-update-to = إذا لم يُحدَّد أحد: إلى جميع المشاركين.
tlp-case-default = مستوى القضية ({ $tlp })
hint-update-tlp = مستوى TLP الخاص بالقضية أو مستوى أشد منه.
hint-update-release = نطاق الإفراج عن القضية: أزل العلامة لتضييقه لهذا التحديث.
case-update-button = نشر التحديث
case-task-legend = مهمة جديدة
field-task-title = المطلوب إنجازه
hint-due = اختياري؛ نهاية ذلك اليوم بالتوقيت العالمي المنسق.
case-task-button = إنشاء المهمة
case-task-change-legend = تعديل مهمة
case-task-change-button = تعديل المهمة
case-invite-legend = دعوة مراكز
field-invite-note = ملاحظة إلى المدعوّين
case-invite-button = دعوة
case-remove-legend = إزالة مشارك
field-participant = المشارك
case-remove-button = إزالة
field-reason = السبب
case-suspend-legend = تعليق القضية
hint-suspend = ما دامت القضية معلّقة لا ينشر فيها إلا الجهة الرئيسية.
case-suspend-button = تعليق
case-resume-legend = استئناف القضية
hint-resume = يعود المشاركون إلى النشر.
case-resume-button = استئناف
case-close-legend = إغلاق القضية
field-close-confirm = الإغلاق نهائي: لا يمكن لأحد النشر في القضية بعده.
case-close-button = إغلاق القضية
case-leave-legend = الانسحاب من القضية
hint-leave = يتوقف هذا المركز عن تلقي تحديثات القضية ومهامها.
case-leave-button = الانسحاب من القضية
error-case-exists = لدى هذه العقدة قضية بهذا الرقم؛ اختر رقمًا آخر.
error-case-closed = القضية مغلقة؛ والإغلاق نهائي.
error-case-suspended = القضية معلّقة: لا ينشر فيها إلا الجهة الرئيسية حتى تستأنفها.
error-case-handling = قواعد التداول أوسع من قواعد القضية (TLP أو نطاق الإفصاح أو رموز H).
error-not-a-participant = المرسِل أو المستلم أو المكلَّف ليس مشاركًا في القضية.
error-not-case-lead = لا يقوم بهذا إلا المركز الرئيسي (ولا يمكنه الانسحاب من القضية).
error-not-invited = ليست لدى هذا المركز دعوة قائمة إلى القضية.
error-already-participant = هذا المركز مشارك بالفعل.
error-unknown-task = لا توجد في القضية مهمة كهذه.
error-not-task-party = لا يعدّل المهمة إلا منشئها أو المكلَّف بها أو الجهة الرئيسية.

## Onward sharing, consent, retention
section-onward = المشاركة مع آخرين
hint-onward = تخضع مشاركة رسالة مع عقد لم تكن من مستلميها لقواعد تداولها: الرسالة الخاضعة لرقابة مُنشئها (H2) تحتاج أولاً إلى موافقة مُنشئها، ويعيد المُنشئ تشفير المحتوى لهم.
share-legend = المشاركة مع عقد أخرى
field-share-to = العقد
share-button = شارك
consent-request-legend = طلب موافقة المُنشئ
consent-request-button = اطلب الموافقة
section-consent-answer = الرد على طلب الموافقة
hint-consent-answer = تعيد الموافقة تشفير محتوى رسالتك للعقد المذكورة وتسمح للمركز الطالب بمشاركتها معهم؛ والرفض يبلغه بالرفض.
grant-legend = الموافقة
deny-legend = الرفض
field-expires = مدة الصلاحية
expires-1d = 24 ساعة
expires-7d = 7 أيام
expires-30d = 30 يوماً
expires-never = بلا انتهاء
grant-button = امنح الموافقة
deny-button = ارفض الموافقة
done-share = تمت المشاركة: المشاركة موقّعة ومسجّلة في السجل وفي الطابور للعقد المذكورة.
done-consent-request = طُلبت الموافقة: الطلب موقّع ومسجّل وفي طريقه إلى المُنشئ.
done-consent-answer = تم الرد: ردك موقّع ومسجّل وفي طريقه إلى المركز الطالب.
section-retention = الاحتفاظ
retention-none = لا يوجد محتوى رسالة مستحق للحذف وفق قواعد الاحتفاظ.
retention-due = { $n-count ->
    [one] محتوى رسالة واحدة مستحق للحذف وفق قواعد الاحتفاظ:
    [two] محتوى رسالتين مستحق للحذف وفق قواعد الاحتفاظ:
    [few] محتوى { $n } رسائل مستحق للحذف وفق قواعد الاحتفاظ:
   *[other] محتوى { $n } رسالة مستحق للحذف وفق قواعد الاحتفاظ:
}
field-purge-confirm = الحذف نهائي: يُكتب فوق كل محتوى ويُسجَّل قيد purged
purge-button = احذفها
purged-notice = { $n-count ->
    [one] حُذف محتوى رسالة واحدة؛ قيد purged في السجل.
    [two] حُذف محتوى رسالتين؛ لكل منهما قيد purged في السجل.
    [few] حُذف محتوى { $n } رسائل؛ لكل منها قيد purged في السجل.
   *[other] حُذف محتوى { $n } رسالة؛ لكل منها قيد purged في السجل.
}
