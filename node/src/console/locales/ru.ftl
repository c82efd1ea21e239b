# Консоль Liaison — русский.
datetime = { $day } { $month } { $year }, { $hour }:{ $minute } UTC
month-1 = янв.
month-2 = февр.
month-3 = мар.
month-4 = апр.
month-5 = мая
month-6 = июн.
month-7 = июл.
month-8 = авг.
month-9 = сент.
month-10 = окт.
month-11 = нояб.
month-12 = дек.
bytes = { $n-count ->
    [one] { $n } байт
    [few] { $n } байта
   *[other] { $n } байт
}

## Layout
skip-to-content = Перейти к содержимому
nav-label = Основное меню
nav-inbox = Входящие
nav-compose = Новое сообщение
nav-status = Состояние узла
nav-log = Журнал аудита
language = Язык
signed-in-as = Вы вошли как
who-token = владелец токена API
logout = Выйти
role-officer = офицер
role-supervisor = руководитель
role-auditor = аудитор
back-to-inbox = Вернуться во входящие
back-to-log = Вернуться к журналу

## Login
login-title = Вход
login-intro = Офицеры с сертификатом используют HTTPS-адрес узла. На самом узле войдите с токеном API.
login-token = Токен API
login-token-hint = Содержимое файла api.token_file узла.
login-submit = Войти

## Inbox
inbox-title = Входящие
inbox-count = { $n-count ->
    [one] { $n } сообщение
    [few] { $n } сообщения
   *[many] { $n } сообщений
}
inbox-unread = непрочитанных: { $n }
inbox-shown = Показано { $n } из { $total }, сначала непрочитанные
inbox-empty = Нет подходящих сообщений.
filters = Фильтры
filter-any = Любой
filter-apply = Применить
filter-clear = Сбросить фильтры
filter-unread = Только непрочитанные
field-sender = Отправитель
col-tlp = TLP
col-state = Статус
col-kind = Тип
col-summary = Содержание
col-from = От
col-case = Дело
col-eval = Оценка
col-received = Получено
unread = Новое
read = Прочитано
no-text = (без текста)
content-hidden = Содержимое недоступно для вашей роли.
content-purged = Текст сообщения удалён по правилам хранения; записи журнала и маршрут сохранены.
overdue = Просрочено
request-answered = Отвечено

## Kinds
kind-alert = Оповещение
kind-request = Запрос
kind-reply = Ответ
kind-retraction = Отзыв
kind-case-open = Открытие дела
kind-case-invite = Приглашение в дело
kind-case-join = Присоединение к делу
kind-case-update = Обновление дела
kind-case-task = Задача по делу
kind-case-close = Закрытие дела
kind-case-remove = Выход или исключение из дела
kind-case-status = Приостановка или возобновление дела
kind-share = Передача
kind-consent-request = Запрос согласия
kind-consent-answer = Ответ на запрос согласия
kind-deconfliction = Уведомление о совпадении

## Message
message-title = { $kind }
sent-notice = Отправлено. Сообщение подписано, записано в журнал и поставлено в очередь.
section-handling = Порядок обращения
section-header = Заголовок
section-content = Содержимое
section-entities = Объекты
section-trail = Маршрут доставки
field-id = Идентификатор
field-kind = Тип
field-originator = Источник
field-recipients = Получатели
field-created = Создано
field-case = Дело
field-in-reply-to = В ответ на
field-role = Этот узел
field-from = Получено от
field-route = Маршрут
field-reply-by = Ответить до
field-language = Язык
field-h-codes = Коды обращения ЕС
field-originator-control = Контроль источника (H2)
field-releasability = Может передаваться
field-eval = Оценка
field-h0 = H0: только для предупреждения и пресечения преступлений
field-h1 = H1: не для судебного разбирательства без разрешения источника
field-h3 = H3: иные ограничения
h2-meaning = Не передавать дальше без согласия источника.
msg-role-originated = отправил
msg-role-delivered = получил
msg-role-relayed = переслал
col-entity-type = Тип
col-entity-value = Значение
entity-person = Лицо
entity-organisation = Организация
entity-document = Документ
entity-phone = Телефон
entity-email = Эл. почта
entity-vehicle = Транспортное средство
entity-vessel = Судно
entity-container = Контейнер
entity-flight = Рейс
entity-wallet = Криптокошелёк
entity-location = Место
entity-event = Событие
ack-button = Подтвердить прочтение
proof-download = Скачать доказательство включения
trail-hops = Следующие узлы и их подписанные квитанции
trail-no-hops = Ни один узел ещё не ответил.
trail-pending = Ожидается ответ от:
trail-entries = Записи журнала
col-peer = Узел
col-outcome = Итог
col-at = Время
col-proof = Квитанция
outcome-relayed = переслано
outcome-delivered = доставлено

## TLP
tlp-meaning-clear = Без ограничений на раскрытие.
tlp-meaning-green = Сообщество, не для публикации.
tlp-meaning-amber = Организации получателей и их клиенты, по служебной необходимости.
tlp-meaning-amber-strict = Только организации получателей.
tlp-meaning-red = Только названные получатели.
field-tlp = TLP

## Evaluation
eval-source-a = источник всегда надёжен
eval-source-b = источник в основном надёжен
eval-source-c = источник в основном ненадёжен
eval-source-x = надёжность источника оценить нельзя
eval-info-1 = точность не вызывает сомнений
eval-info-2 = известно источнику лично
eval-info-3 = подтверждено
eval-info-4 = не может быть подтверждено
field-eval-source = Источник
field-eval-info = Информация

## Request urgency
field-urgency = Срочность (запросы)
urgency-none = —
urgency-urgent = Срочно (8 часов)
urgency-three-days = Три дня
urgency-seven-days = Семь дней
hint-urgency = Только для запроса: срок ответа.

## Compose
compose-title = Новое сообщение
compose-message = Сообщение
hint-in-reply-to = Для ответа или отзыва: идентификатор исходного сообщения (64 шестнадцатеричные цифры).
field-to-other = Другие получатели
hint-to-other = Идентификаторы узлов (центр.сеть) или network:имя через пробел или запятую.
field-release-other = Также может передаваться
hint-release = network:имя, centre:имя или идентификаторы узлов. Пусто: узлы и сети получателей.
field-text = Текст
field-entities = Объекты
hint-entities = По одному в строке, тип=значение: phone=+77011234567, email=…, container=MSCU1234565, person=Имя.
send-button = Подписать и отправить
lang-en = английский
lang-ru = русский
lang-ar = арабский
lang-fr = французский
lang-es = испанский
lang-zh = китайский
lang-kk = казахский
lang-ky = киргизский
lang-tg = таджикский
lang-uz = узбекский
lang-tk = туркменский
lang-fa = персидский
lang-ps = пушту
lang-ur = урду

## Status
status-title = Состояние узла
section-alarms = Тревоги
section-case-gaps = Сообщения по делам, ещё не полученные
alarms-none = Тревог нет.
section-node = Этот узел
section-peers = Соседние узлы
section-checkpoint = Последняя подписанная контрольная точка
field-node = Узел
field-listen = Адрес QUIC
field-log-size = Записей в журнале
field-log-root = Корень журнала
field-unread = Непрочитанные
field-disk = Хранилище на диске
col-address = Адрес
col-session = Сеанс
col-since = С
col-outbox = Очередь
col-sent = Отправлено
col-receipts = Квитанции
col-last-error = Последняя ошибка
section-expiries = Сертификаты и списки отзыва
col-expiry-what = Что
col-expiry-at = Истекает
col-days-left = Осталось дней
expired = Истёк
peer-up = на связи
peer-down = нет связи
no-checkpoint = Контрольная точка ещё не подписана.

## Audit log
log-title = Журнал аудита
log-range = Записи { $from }–{ $to } из { $size }
log-shown = { $n-count ->
    [one] Показана { $n } запись, сначала новые
    [few] Показаны { $n } записи, сначала новые
   *[many] Показано { $n } записей, сначала новые
}
log-empty = Нет подходящих записей.
log-verify = Проверить весь журнал
log-export = Скачать выгрузку (JSON Lines)
log-older = ← Раньше
log-newer = Позже →
log-pages = Страницы
field-message-id = Идентификатор сообщения
field-event-type = Событие
field-search = Содержит
col-index = №
col-event = Событие
event-sent = Отправлено
event-received = Получено
event-relayed = Переслано
event-refused = Отклонено
event-receipt-sent = Квитанция отправлена
event-receipt-received = Квитанция получена
event-refusal-received = Получен отказ
event-acknowledged = Прочтение подтверждено
event-admin = Администрирование
event-purged = Удалено
event-message = сообщение
event-from = от
event-to = кому
event-peer = узел
event-status = статус
event-reason = причина
event-by = кем
event-act = действие
event-rule = правило
verify-title = Проверка журнала
verify-ok = Все записи, контрольные точки, косигнатуры и сохранённые сообщения в порядке.
verify-failed = { $n-count ->
    [one] Найдена { $n } проблема:
    [few] Найдены { $n } проблемы:
   *[many] Найдено { $n } проблем:
}
verify-entries = Записей
verify-checkpoints = Проверено контрольных точек
verify-checkpoint-size = Покрыто последней контрольной точкой
verify-cosignatures = Проверено косигнатур
verify-messages = Проверено сообщений
verify-answers = Проверено квитанций и отказов

## Errors
error-code = Код причины:
error-detail = Подробности:
error-other = Запрос не выполнен.
error-refused = Узел отклонил сообщение.
error-unauthenticated = Сначала войдите: нет действительного сертификата или сеанса.
error-bad-token = Это не токен API этого узла.
error-too-many-attempts = Слишком много неудачных попыток входа с этого адреса. Подождите немного и попробуйте снова.
error-forbidden-role = Вашей роли это не разрешено.
error-csrf-token-missing = Форма отправлена не из этой консоли (нет токена безопасности). Обновите страницу и повторите.
error-csrf-token-invalid = Токен безопасности формы недействителен для вашего сеанса. Обновите страницу и повторите.
error-csrf-cross-origin = Форма отправлена с другого сайта и отклонена.
error-form-too-large = Форма слишком велика.
error-unknown-message = Сообщение с таким идентификатором этому узлу неизвестно.
error-not-in-inbox = Подтвердить можно только сообщения, доставленные этому узлу.
error-message-purged = Текст этого сообщения удалён.
error-no-checkpoint = Контрольная точка ещё не подписана.
error-no-such-endpoint = Такой страницы нет.
error-method-not-allowed = Эта страница не принимает такой метод.
error-malformed-request = Неверный запрос.
error-internal-error = Сбой узла; подробности в его журнале.
error-audit-failed = Журнал проверить не удалось.
error-export-failed = Выгрузку создать не удалось.
error-no-route = Нет маршрута к получателю.
error-no-sealing-key = Ключ шифрования получателя ещё неизвестен; повторите, когда его узел подключится.
error-releasability-violation = Получатель или промежуточный узел вне разрешённого круга передачи.
error-tlp-red-violation = TLP:RED передаётся только названным узлам-получателям.
error-tlp-amber-strict-violation = TLP:AMBER+STRICT не выходит за пределы организаций получателей.
error-originator-control = Контроль источника запрещает это без согласия.
error-invalid-field = Недопустимое значение поля.
error-invalid-handling = Порядок обращения противоречив (проверьте получателей, TLP и круг передачи).
error-invalid-message = Сообщение составлено неверно (проверьте поля).
status-400 = Неверный запрос
status-401 = Вход не выполнен
status-403 = Запрещено
status-404 = Не найдено
status-405 = Метод не разрешён
status-410 = Удалено
status-413 = Слишком велико
status-422 = Отклонено
status-500 = Ошибка узла

## Cases
nav-cases = Дела
cases-title = Дела
cases-empty = Этот узел пока не участвует ни в одном деле.
col-title = Название
col-lead = Ведущий
col-standing = Участие
col-participants = Участники
col-updates = Обновления
col-open-tasks = Открытые задачи
col-last-activity = Последняя активность
col-task = Задача
col-assignee = Исполнитель
col-due = Срок
col-note = Примечание
field-opened = Открыто
section-summary = Краткое описание
section-participants = Участники
section-tasks = Задачи
section-updates = Обновления
section-timeline = Хронология
tasks-none = Задач нет.
case-status-open = открыто
case-status-suspended = приостановлено
case-status-closed = закрыто
standing-lead = ведущий
standing-invited = приглашён
standing-participant = участник
standing-declined = отказался
standing-left = вышел
standing-removed = исключён
task-status-open = открыта
task-status-in-progress = в работе
task-status-done = выполнена
task-status-cancelled = отменена
error-unknown-case = Этому узлу такое дело неизвестно.
## Case actions
section-case-actions = Действия по делу
case-done = Готово: сообщение по делу подписано, записано в журнал и поставлено в очередь для участников.
case-not-yet-received = Ещё не получили:
section-case-earlier = Более ранние сообщения
case-earlier-rule = Участник получает сообщения по делу, написанные после его присоединения. Более ранние остаются у участников того времени, если их автор не поделится ими: каждый автор делится своими — они заново шифруются для нового участника и проверяются по правилам обращения. Обновления, отправленные лишь части участников, не передаются.
case-earlier-count = { $n-count ->
    [one] присоединился после { $n } сообщения этого центра и не получил его.
   *[other] присоединился после { $n } сообщений этого центра и не получил их.
}
case-earlier-button = Поделиться ими
case-no-effect = Без действия
case-open-title = Открыть дело
case-open-case = Дело
field-case-id = Номер дела
field-case-title = Название
hint-case-id = Пусто: номер будет создан (ЦЕНТР-год-XXXX).
field-invitees = Пригласить
field-nodes-other = Другие узлы
hint-nodes-other = Идентификаторы узлов (центр.сеть) через пробел или запятую.
hint-case-release = network:имя, centre:имя или идентификаторы узлов. Пусто: сети этого узла и приглашённых узлов.
field-summary = Краткое описание
case-open-button = Открыть дело
case-invitation = Этот центр приглашён в дело. Приняв приглашение, он станет участником: будет получать обновления и задачи по делу и сможет их публиковать.
case-accept-button = Принять приглашение
case-decline-button = Отклонить
case-closed-note = Дело закрыто; закрытие окончательно.
case-suspended-note = Ведущий приостановил дело: до возобновления публикует только ведущий.
case-update-legend = Опубликовать обновление
field-update-to = Только для
hint-update-to = Ничего не отмечено: всем участникам.
tlp-case-default = Как у дела ({ $tlp })
hint-update-tlp = TLP дела или более строгий.
hint-update-release = Допустимые получатели дела: снимите отметку, чтобы сузить круг для этого обновления.
case-update-button = Опубликовать
case-task-legend = Новая задача
field-task-title = Что нужно сделать
hint-due = Необязательно; конец этого дня, UTC.
case-task-button = Создать задачу
case-task-change-legend = Изменить задачу
case-task-change-button = Изменить задачу
case-invite-legend = Пригласить центры
field-invite-note = Записка приглашённым
case-invite-button = Пригласить
case-remove-legend = Исключить участника
field-participant = Участник
case-remove-button = Исключить
field-reason = Причина
case-suspend-legend = Приостановить дело
hint-suspend = Пока дело приостановлено, публикует только ведущий.
case-suspend-button = Приостановить
case-resume-legend = Возобновить дело
hint-resume = Участники снова смогут публиковать.
case-resume-button = Возобновить
case-close-legend = Закрыть дело
field-close-confirm = Закрытие окончательно: после него никто не сможет публиковать по делу.
case-close-button = Закрыть дело
case-leave-legend = Выйти из дела
hint-leave = Этот центр перестанет получать обновления и задачи по делу.
case-leave-button = Выйти из дела
error-case-exists = У этого узла уже есть дело с таким номером; выберите другой.
error-case-closed = Дело закрыто; закрытие окончательно.
error-case-suspended = Дело приостановлено: до возобновления публикует только ведущий.
error-case-handling = Правила обращения шире, чем у дела (TLP, круг передачи или коды H).
error-not-a-participant = Отправитель, получатель или исполнитель не участвует в деле.
error-not-case-lead = Это делает только ведущий центр (а ведущий не может выйти из дела).
error-not-invited = У этого центра нет действующего приглашения в дело.
error-already-participant = Этот центр уже участвует в деле.
error-unknown-task = В деле нет такой задачи.
error-not-task-party = Задачу меняют только её автор, исполнитель или ведущий.

## Onward sharing, consent, retention
section-onward = Передать дальше
hint-onward = Передача сообщения узлам, не входившим в число его получателей, подчиняется правилам обращения: для сообщения под контролем автора (H2) сначала нужно согласие автора, и автор заново шифрует содержание для них.
share-legend = Передать другим узлам
field-share-to = Узлы
share-button = Передать
consent-request-legend = Запросить согласие автора
consent-request-button = Запросить согласие
section-consent-answer = Ответить на запрос согласия
hint-consent-answer = Согласие заново шифрует содержание вашего сообщения для указанных узлов и позволяет запросившему центру передать его им; отказ сообщает ему «нет».
grant-legend = Дать согласие
deny-legend = Отказать
field-expires = Срок действия
expires-1d = 24 часа
expires-7d = 7 дней
expires-30d = 30 дней
expires-never = Бессрочно
grant-button = Дать согласие
deny-button = Отказать в согласии
done-share = Передано: передача подписана, записана в журнал и поставлена в очередь для указанных узлов.
done-consent-request = Запрос отправлен: он подписан, записан в журнал и направлен автору.
done-consent-answer = Ответ дан: он подписан, записан в журнал и направлен запросившему центру.
section-retention = Хранение
retention-none = По правилам хранения ни одно содержание сообщения не подлежит удалению.
retention-due = { $n-count ->
    [one] { $n } содержание сообщения подлежит удалению по правилам хранения:
    [few] { $n } содержания сообщений подлежат удалению по правилам хранения:
   *[many] { $n } содержаний сообщений подлежат удалению по правилам хранения:
}
field-purge-confirm = Удаление окончательно: каждое содержание перезаписывается, в журнал заносится запись purged
purge-button = Удалить
purged-notice = { $n-count ->
    [one] Удалено { $n } содержание сообщения; запись purged есть в журнале.
    [few] Удалено { $n } содержания сообщений; у каждого есть запись purged в журнале.
   *[many] Удалено { $n } содержаний сообщений; у каждого есть запись purged в журнале.
}
