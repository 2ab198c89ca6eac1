/*
 * Candidate simulator: plays the WeChat mini program against the real candidate API.
 *
 *   pick a demo candidate  -> "wx.login"  POST {api}/auth/login {code: "sandbox:<openid>:<nonce>"}
 *   我的面试                -> GET  {api}/interviews
 *   取消面试                -> GET  {api}/cancel-reasons  (bottom sheet)
 *   确认取消 (tap handler)  -> GET  {api}/subscriptions/templates
 *                              "wx.requestSubscribeMessage" dialog (允许 / 拒绝)
 *                              允许: POST {sandbox}/subscriptions {openid, template_id} per template
 *                              POST {api}/subscriptions {results}
 *                              POST {api}/interviews/{id}/cancel + Idempotency-Key
 *   result                  -> poll GET {sandbox}/messages?touser=<openid> every 1 s, up to 30 s
 *   确认参加                -> GET {api}/subscriptions/templates?scene=schedule, the dialog,
 *                              POST {api}/interviews/{id}/confirm
 *   改期                    -> GET  {api}/interviews/{id}/reschedule-slots (bottom sheet)
 *                              POST {api}/interviews/{id}/reschedule {slot_id} + Idempotency-Key
 *   名额邀请                -> GET  {api}/offers, with every load of 我的面试 (issue 11 §4-5)
 *                              接受: POST {api}/offers/{id}/accept + Idempotency-Key
 *                              放弃 (tapped twice): POST {api}/offers/{id}/decline + Idempotency-Key
 *                              then 我的面试 and the offers are loaded again
 *
 * Plain JS, no dependencies. Every text the user sees is Chinese; every API error shows the
 * API's own `error.message`.
 */
(function () {
  "use strict";

  var phone = document.getElementById("phone");
  var CONFIG = {};
  try { CONFIG = JSON.parse(document.getElementById("simulator-config").textContent); } catch (e) { CONFIG = {}; }
  var API = CONFIG.api_base || "/api/mp/v1";
  var SANDBOX = CONFIG.sandbox_base || "/_sandbox/wechat";
  var TEMPLATE_TITLES = CONFIG.template_titles || {};

  var POLL_INTERVAL_MS = 1000;
  var POLL_DURATION_MS = 30000;
  var MAX_SUBSCRIBE_TEMPLATES = 3; // wx.requestSubscribeMessage asks for at most 3 at once

  // Field names for the subscribe-message keys we know; other keys are shown as they are.
  var FIELD_LABELS = {
    thing1: "岗位名称",
    time2: "面试时间",
    thing3: "取消原因",
    thing4: "温馨提示",
    phrase3: "审核状态"
  };

  var state = {
    openid: null,
    name: null,
    token: null,
    interviews: [],
    reasons: null,
    current: null,        // the interview being cancelled
    reason: null,         // the chosen reason
    cancelKey: null,      // Idempotency-Key, reused only when the request never got an answer
    busy: false,
    listStale: false,
    poll: null,
    messagesSeen: "",
    moving: null,         // the interview being rescheduled
    slot: null,           // the chosen slot
    moveKey: null,        // Idempotency-Key of the reschedule, as for the cancel
    offers: [],           // the open offers (GET /offers)
    offerKeys: {},        // offer id + action -> Idempotency-Key, kept only for a retry
    offerNotice: null,    // {text, kind: "ok"|"error"}: the last accept / decline outcome
    decliningId: null,    // the offer whose 放弃 was tapped once (a second tap declines)
    newInterviewId: null  // the interview booked from an offer, marked in the list
  };

  // ------------------------------------------------------------------ helpers

  function $(id) { return document.getElementById(id); }

  /** Build an element: h("div", {class: "x", "data-testid": "y"}, [children or text]). */
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") el.textContent = v;
        else if (k === "onclick") el.addEventListener("click", v);
        else el.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // Not a secure context (e.g. the dev server opened by LAN IP on a phone): same format.
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return hex.slice(0, 4).join("") + "-" + hex.slice(4, 6).join("") + "-" +
      hex.slice(6, 8).join("") + "-" + hex.slice(8, 10).join("") + "-" + hex.slice(10).join("");
  }

  function nonce() {
    var b = new Uint8Array(8);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
  }

  var WEEKDAYS = ["日", "一", "二", "三", "四", "五", "六"];

  /** Date parts in Asia/Shanghai, whatever the browser's own time zone. */
  function shanghaiParts(iso) {
    if (typeof iso === "number" && iso < 1e12) iso = iso * 1000; // epoch seconds
    var d = new Date(iso);
    if (isNaN(d.getTime())) return null;
    var t = new Date(d.getTime() + 8 * 3600 * 1000); // China has no DST: UTC+8 all year
    return {
      y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(),
      hh: ("0" + t.getUTCHours()).slice(-2), mm: ("0" + t.getUTCMinutes()).slice(-2),
      wd: WEEKDAYS[t.getUTCDay()], ms: d.getTime()
    };
  }

  /** "3月15日 周五 14:00" (with the year when it is not this year). */
  function formatTime(iso) {
    if (!iso) return "";
    var p = shanghaiParts(iso);
    if (!p) return String(iso);
    var now = shanghaiParts(new Date().toISOString());
    var date = (now && now.y === p.y ? "" : p.y + "年") + p.m + "月" + p.d + "日";
    return date + " 周" + p.wd + " " + p.hh + ":" + p.mm;
  }

  /** "3月15日 周五 14:00-14:45" */
  function formatSlot(iso, minutes) {
    var text = formatTime(iso);
    var p = shanghaiParts(iso);
    if (p && minutes) {
      var end = shanghaiParts(new Date(p.ms + minutes * 60000).toISOString());
      text += "-" + end.hh + ":" + end.mm;
    }
    return text;
  }

  function formatClock(iso) {
    var p = iso && shanghaiParts(iso);
    return p ? p.m + "月" + p.d + "日 " + p.hh + ":" + p.mm : "";
  }

  // ------------------------------------------------------------ loading / errors

  var loadingCount = 0;
  function showLoading(text) {
    loadingCount += 1;
    $("loading-text").textContent = text || "加载中";
    $("loading").hidden = false;
  }
  function hideLoading() {
    loadingCount = Math.max(0, loadingCount - 1);
    if (loadingCount === 0) $("loading").hidden = true;
  }

  var errorTimer = null;
  function showError(message) {
    var bar = $("error-bar");
    bar.textContent = message;
    bar.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(function () { bar.hidden = true; }, 6000);
  }
  function clearError() {
    clearTimeout(errorTimer);
    $("error-bar").hidden = true;
  }
  $("error-bar").addEventListener("click", clearError);

  /** An error carrying the API's Chinese message, its code and HTTP status. */
  function ApiError(message, code, status, network) {
    var e = new Error(message);
    e.code = code || "error";
    e.status = status || 0;
    e.network = !!network;
    return e;
  }

  /** fetch + JSON; throws ApiError with the server's `error.message` (or WeChat `errmsg`). */
  function request(method, url, body, headers) {
    var opts = { method: method, headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    Object.keys(headers || {}).forEach(function (k) { opts.headers[k] = headers[k]; });
    return fetch(url, opts).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
        if (!resp.ok) {
          var err = data && data.error;
          var message = (err && err.message) || (data && data.errmsg) ||
            ("请求失败（HTTP " + resp.status + "）");
          throw ApiError(message, err && err.code, resp.status);
        }
        if (data && typeof data.errcode === "number" && data.errcode !== 0) {
          // WeChat-style answer from the sandbox: HTTP 200 with errcode != 0.
          throw ApiError(data.errmsg || ("微信接口错误 " + data.errcode), "wechat_" + data.errcode, resp.status);
        }
        return data;
      });
    }, function () {
      throw ApiError("网络异常，请检查网络后重试", "network_error", 0, true);
    });
  }

  /** Call the candidate API with the bearer token. */
  function api(method, path, body, headers) {
    var hdrs = { "Authorization": "Bearer " + state.token };
    Object.keys(headers || {}).forEach(function (k) { hdrs[k] = headers[k]; });
    return request(method, API + path, body, hdrs).catch(function (err) {
      if (err.status === 401) {
        // The session token expired or was revoked: back to "wx.login", like the mini program.
        state.token = null;
        $("sheet-mask").hidden = true;
        $("reason-sheet").hidden = true;
        showScreen("login");
        showError(err.message);
      }
      throw err;
    });
  }

  // ------------------------------------------------------------------ screens

  function showScreen(name) {
    ["login", "interviews", "result"].forEach(function (s) {
      $("screen-" + s).hidden = s !== name;
    });
    $("nav-title").textContent = { login: "AI面试助手", interviews: "我的面试", result: "取消结果" }[name];
    $("nav-back").hidden = name === "login";
    phone.setAttribute("data-screen", name);
    if (name !== "result") stopPolling();
    window.scrollTo(0, 0);
  }

  $("nav-back").addEventListener("click", function () {
    if (phone.getAttribute("data-screen") === "result") backToList();
    else showScreen("login");
  });

  // ---------------------------------------------------- 1. candidates + wx.login

  function loadCandidates() {
    showLoading("加载中");
    request("GET", SANDBOX + "/simulator/candidates").then(function (data) {
      renderCandidates((data && data.items) || []);
    }).catch(function (err) {
      showError(err.message);
    }).then(hideLoading);
  }

  function renderCandidates(items) {
    var list = $("candidate-list");
    clear(list);
    $("candidate-empty").hidden = items.length > 0;
    list.hidden = items.length === 0;
    items.forEach(function (c) {
      list.appendChild(h("button", {
        type: "button", "class": "candidate-item", "data-testid": "candidate-item",
        "data-openid": c.openid,
        onclick: function () { login(c); }
      }, [
        h("span", { "class": "avatar", text: (c.name || "?").slice(-2) }),
        h("span", { "class": "candidate-main" }, [
          h("div", { "class": "candidate-name", text: c.name }),
          h("div", { "class": "candidate-openid", text: "openid: " + c.openid })
        ]),
        h("span", { "class": "chevron", text: "›" })
      ]));
    });
  }

  function login(c) {
    if (state.busy) return;
    state.busy = true;
    clearError();
    showLoading("登录中");
    // wx.login() gives a one-time code; the sandbox's code2session maps it to this openid.
    var code = "sandbox:" + c.openid + ":" + nonce();
    request("POST", API + "/auth/login", { code: code }).then(function (data) {
      resetOffers();
      state.openid = c.openid;
      state.token = data.token;
      state.name = (data.candidate && data.candidate.name) || c.name;
      state.bound = !!data.bound;
      var g = $("greeting");
      clear(g);
      g.appendChild(document.createTextNode("你好，" + state.name));
      g.appendChild(h("small", {
        text: state.bound ? "以下是你的AI面试安排" : "该微信尚未绑定候选人信息"
      }));
      showScreen("interviews");
      return loadInterviews();
    }).catch(function (err) {
      showError(err.message);
    }).then(function () {
      state.busy = false;
      hideLoading();
    });
  }

  $("switch-user").addEventListener("click", function () {
    state.token = null;
    state.openid = null;
    showScreen("login");
  });

  $("refresh-list").addEventListener("click", function () {
    if (state.busy) return;
    clearError();
    state.offerNotice = null;
    loadInterviews();
  });

  // ---------------------------------------------------------- 2. 我的面试

  /** 我的面试 and the open offers, loaded together (the mini program's onShow). */
  function loadInterviews() {
    showLoading("加载中");
    var interviews = api("GET", "/interviews").then(function (data) {
      state.interviews = (data && data.items) || [];
      renderInterviews();
    });
    // An unbound WeChat user has no offers (the API answers not_bound): ask only when bound.
    var offerList = state.bound ? loadOffers() : Promise.resolve(renderOffers([]));
    return Promise.all([interviews, offerList]).catch(function (err) {
      showError(err.message);
    }).then(hideLoading);
  }

  function row(label, value) {
    return h("div", { "class": "card-row" }, [h("dt", { text: label }), h("dd", { text: value })]);
  }

  function renderInterviews() {
    var list = $("interview-list");
    clear(list);
    $("interview-empty").hidden = state.interviews.length > 0;
    state.interviews.forEach(function (it) {
      var pos = it.position || {};
      var foot = null;
      // As the mini program: 确认参加 while 待确认, 改期 while the API allows it, 取消面试
      // when can_cancel; the hint says the nearest deadline.
      var actions = [];
      if (it.status === "scheduled") {
        actions.push(h("button", {
          type: "button", "class": "btn btn-primary btn-confirm", "data-testid": "confirm-button",
          text: "确认参加", onclick: function () { confirmAttendance(it); }
        }));
      }
      if (it.can_reschedule) {
        actions.push(h("button", {
          type: "button", "class": "btn btn-outline", "data-testid": "reschedule-button",
          text: "改期", onclick: function () { openSlotSheet(it); }
        }));
      }
      if (it.can_cancel) {
        actions.push(h("button", {
          type: "button", "class": "btn btn-warn-outline", "data-testid": "cancel-button",
          text: "取消面试", onclick: function () { openReasonSheet(it); }
        }));
      }
      var hint = "";
      if (it.status === "scheduled" && it.confirm_by) {
        hint = "请于 " + formatClock(it.confirm_by) + " 前确认参加";
      } else if (it.can_cancel && it.cancel_deadline) {
        hint = formatClock(it.cancel_deadline) + " 前可取消";
      }
      if (actions.length || hint) {
        foot = h("div", { "class": "card-foot" }, [
          h("span", { "class": "card-hint", "data-testid": "card-hint", text: hint }),
          h("div", { "class": "card-actions" }, actions)
        ]);
      }
      var booked = it.id === state.newInterviewId;
      list.appendChild(h("div", {
        "class": "interview-card" + (booked ? " card-new" : ""), "data-testid": "interview-card",
        "data-interview-id": it.id, "data-status": it.status, "data-new": booked
      }, [
        h("div", { "class": "card-head" }, [
          h("div", {}, [
            h("div", { "class": "card-title", text: pos.title || "AI面试" }),
            pos.department ? h("div", { "class": "card-dept", text: pos.department }) : null
          ]),
          booked ? h("span", { "class": "new-tag", "data-testid": "new-tag", text: "新预约" }) : null,
          h("span", {
            "class": "status-tag status-" + it.status, "data-testid": "status-label",
            text: it.status_label || it.status
          })
        ]),
        h("dl", { "class": "card-rows" }, [
          row("面试时间", formatSlot(it.scheduled_at, it.duration_minutes)),
          it.duration_minutes ? row("时长", it.duration_minutes + " 分钟") : null,
          row("面试编号", it.number || "")
        ]),
        foot
      ]));
    });
  }


  // ------------------------------------------------ 2b. 名额邀请 (slot offers)

  var OFFER_HINTS = {
    backfill: "有候选人取消了面试，空出的名额先到先得",
    promise: "面试取消后为你重新安排的时段"
  };

  /** Another candidate logged in: nothing of the last one's offers is kept. */
  function resetOffers() {
    state.offers = [];
    state.offerKeys = {};
    state.offerNotice = null;
    state.decliningId = null;
    state.newInterviewId = null;
  }

  function loadOffers() {
    return api("GET", "/offers").then(function (data) {
      renderOffers((data && data.items) || []);
    });
  }

  /** "12月3日 周三 14:00-16:00": the offered session's time, start to end. */
  function formatRange(startIso, endIso) {
    var text = formatTime(startIso);
    var end = endIso && shanghaiParts(endIso);
    return end ? text + "-" + end.hh + ":" + end.mm : text;
  }

  function renderOffers(offers) {
    state.offers = offers;
    if (!offers.some(function (o) { return o.id === state.decliningId; })) state.decliningId = null;
    var list = $("offer-list");
    clear(list);
    var notice = state.offerNotice;
    $("offer-section").hidden = !offers.length && !notice;
    $("offer-count").textContent = offers.length ? offers.length + " 个待回复" : "";
    var box = $("offer-notice");
    box.hidden = !notice;
    box.textContent = notice ? notice.text : "";
    box.className = "offer-notice" + (notice ? " offer-notice-" + notice.kind : "");
    box.setAttribute("data-kind", notice ? notice.kind : "");
    if (!offers.length && notice) {
      list.appendChild(h("div", { "class": "offer-empty", text: "暂无待回复的名额邀请" }));
    }
    offers.forEach(function (offer) { list.appendChild(offerCard(offer)); });
  }

  function offerCard(offer) {
    var pos = offer.position || {};
    var declining = state.decliningId === offer.id;
    var heldLabel = offer.kind === "backfill" ? "名额保留至" : "回复截止";
    return h("div", {
      "class": "offer-card offer-" + offer.kind, "data-testid": "offer-card",
      "data-offer-id": offer.id, "data-kind": offer.kind
    }, [
      h("div", { "class": "card-head" }, [
        h("div", {}, [
          h("div", { "class": "card-title", text: pos.title || "AI面试" }),
          pos.department ? h("div", { "class": "card-dept", text: pos.department }) : null
        ]),
        h("span", {
          "class": "kind-tag kind-" + offer.kind, "data-testid": "offer-kind",
          text: offer.kind_label || offer.kind
        })
      ]),
      h("dl", { "class": "card-rows" }, [
        row("面试时间", formatRange(offer.starts_at, offer.ends_at)),
        row(heldLabel, formatClock(offer.expires_at)),
        row("状态", offer.state_label || offer.state)
      ]),
      h("div", { "class": "card-foot" }, [
        h("span", {
          "class": "card-hint", "data-testid": "offer-hint",
          text: declining ? "放弃后名额将让给其他候选人，再点一次确认" : (OFFER_HINTS[offer.kind] || "")
        }),
        h("div", { "class": "card-actions" }, [
          h("button", {
            type: "button", "class": declining ? "btn btn-warn-outline btn-armed" : "btn btn-plain btn-quiet",
            "data-testid": "offer-decline", text: declining ? "确认放弃" : "放弃",
            onclick: function () { declineOffer(offer); }
          }),
          h("button", {
            type: "button", "class": "btn btn-primary btn-confirm", "data-testid": "offer-accept",
            text: "接受", onclick: function () { acceptOffer(offer); }
          })
        ])
      ])
    ]);
  }

  /** The Idempotency-Key of one action on one offer: kept for a retry of a request that
   *  never got an answer, dropped once the API answered. */
  function offerKey(offer, action) {
    var k = offer.id + ":" + action;
    if (!state.offerKeys[k]) state.offerKeys[k] = uuid4();
    return state.offerKeys[k];
  }

  function offerAction(offer, action, done) {
    if (state.busy) return;
    state.busy = true;
    clearError();
    showLoading("提交中");
    var key = offer.id + ":" + action;
    api("POST", "/offers/" + encodeURIComponent(offer.id) + "/" + action, {},
      { "Idempotency-Key": offerKey(offer, action) })
      .then(function (data) {
        delete state.offerKeys[key];
        done(data);
      }, function (err) {
        if (!err.network) delete state.offerKeys[key];
        // offer_taken, offer_expired ...: the API's own Chinese message, kept on the section
        state.offerNotice = { text: err.message, kind: "error" };
        if (err.network) showError(err.message);
      })
      .catch(function (err) { showError(err.message); })
      .then(function () {
        state.decliningId = null;
        state.busy = false;
        hideLoading();
        // the offer's state changed either way (or the list was stale): load both again
        return state.token ? loadInterviews() : null;
      });
  }

  function acceptOffer(offer) {
    offerAction(offer, "accept", function (data) {
      var it = (data && data.interview) || {};
      state.newInterviewId = it.id || null;
      var when = formatTime(it.scheduled_at || offer.starts_at);
      state.offerNotice = { text: "已接受邀请，面试已预约：" + when + "，请留意确认参加", kind: "ok" };
      showToast("预约成功");
    });
  }

  function declineOffer(offer) {
    if (state.busy) return;
    if (state.decliningId !== offer.id) {
      // first tap: ask again (the place goes to the next candidate and cannot come back)
      state.decliningId = offer.id;
      renderOffers(state.offers);
      return;
    }
    offerAction(offer, "decline", function () {
      state.offerNotice = { text: "已放弃该名额邀请", kind: "ok" };
      showToast("已放弃");
    });
  }

  // ---------------------------------------------------- 3. reason bottom sheet

  function openReasonSheet(interview) {
    clearError();
    state.current = interview;
    state.reason = null;
    state.cancelKey = null;
    $("sheet-sub").textContent = ((interview.position && interview.position.title) || "") +
      " · " + formatTime(interview.scheduled_at);
    $("note-input").value = "";
    $("note-box").hidden = true;
    $("sheet-error").hidden = true;
    updateConfirm();
    var ready = state.reasons ? Promise.resolve(state.reasons) : (function () {
      showLoading("加载中");
      return api("GET", "/cancel-reasons").then(function (data) {
        state.reasons = (data && data.items) || [];
        return state.reasons;
      }).then(function (r) { hideLoading(); return r; }, function (e) { hideLoading(); throw e; });
    })();
    ready.then(function (reasons) {
      renderReasons(reasons);
      $("sheet-mask").hidden = false;
      $("reason-sheet").hidden = false;
    }).catch(function (err) {
      showError(err.message);
    });
  }

  function renderReasons(reasons) {
    var list = $("reason-list");
    clear(list);
    reasons.forEach(function (r) {
      list.appendChild(h("button", {
        type: "button", role: "radio", "aria-checked": "false",
        "class": "reason-option", "data-testid": "reason-option", "data-code": r.code,
        onclick: function () { pickReason(r); }
      }, [h("span", { text: r.label }), h("span", { "class": "radio" })]));
    });
  }

  function pickReason(r) {
    state.reason = r;
    state.cancelKey = null;
    Array.prototype.forEach.call(document.querySelectorAll(".reason-option"), function (el) {
      el.setAttribute("aria-checked", el.getAttribute("data-code") === r.code ? "true" : "false");
    });
    var max = r.note_max_length || 200;
    var note = $("note-input");
    note.maxLength = max;
    note.required = !!r.requires_note;
    note.placeholder = r.requires_note ? "请填写具体原因（必填）" : "补充说明（选填）";
    $("note-max").textContent = max;
    // Like the mini program: the note box appears only for reasons that need a note.
    $("note-box").hidden = !r.requires_note;
    $("sheet-error").hidden = true;
    updateConfirm();
    if (r.requires_note) note.focus();
  }

  function noteValue() {
    return state.reason && state.reason.requires_note ? $("note-input").value.trim() : "";
  }

  function updateConfirm() {
    var r = state.reason;
    $("note-count").textContent = $("note-input").value.length;
    $("confirm-cancel").disabled = state.busy || !r || (r.requires_note && !noteValue());
  }

  $("note-input").addEventListener("input", function () {
    state.cancelKey = null;
    $("sheet-error").hidden = true;
    updateConfirm();
  });

  function closeReasonSheet() {
    $("sheet-mask").hidden = true;
    $("reason-sheet").hidden = true;
    if (state.listStale) {
      state.listStale = false;
      loadInterviews();
    }
  }
  $("sheet-close").addEventListener("click", function () { if (!state.busy) closeReasonSheet(); });
  $("sheet-mask").addEventListener("click", function () { if (!state.busy) closeReasonSheet(); });

  function sheetError(message) {
    var el = $("sheet-error");
    el.textContent = message;
    el.hidden = false;
  }

  // ------------------------------------- 4. 确认取消: subscription dialog + cancel

  /** Imitates wx.requestSubscribeMessage: resolves {template_id: "accept"|"reject"}. */
  function requestSubscribeMessage(templateIds) {
    return new Promise(function (resolve) {
      var items = $("subscribe-items");
      clear(items);
      templateIds.forEach(function (tid) {
        items.appendChild(h("li", { "data-template-id": tid }, [
          h("span", {}, [
            h("div", { text: TEMPLATE_TITLES[tid] || "面试通知" }),
            h("div", { "class": "subscribe-tid", text: tid })
          ]),
          h("span", { "class": "switch-on", "aria-hidden": "true" })
        ]));
      });
      $("subscribe-mask").hidden = false;
      $("subscribe-dialog").hidden = false;
      function done(answer) {
        $("subscribe-allow").removeEventListener("click", allow);
        $("subscribe-reject").removeEventListener("click", reject);
        $("subscribe-mask").hidden = true;
        $("subscribe-dialog").hidden = true;
        var results = {};
        templateIds.forEach(function (tid) { results[tid] = answer; });
        resolve(results);
      }
      function allow() { done("accept"); }
      function reject() { done("reject"); }
      $("subscribe-allow").addEventListener("click", allow);
      $("subscribe-reject").addEventListener("click", reject);
    });
  }

  /**
   * Ask for the subscriptions; like wx.requestSubscribeMessage's `complete`, a failure here
   * never blocks the cancellation: it is reported on the result screen instead.
   */
  function subscribe(scene) {
    var warning = null;
    return api("GET", "/subscriptions/templates" + (scene ? "?scene=" + encodeURIComponent(scene) : ""))
      .then(function (data) {
      var ids = ((data && data.template_ids) || []).slice(0, MAX_SUBSCRIBE_TEMPLATES);
      if (!ids.length) return null;
      hideLoading();
      return requestSubscribeMessage(ids).then(function (results) {
        showLoading("提交中");
        var accepted = ids.filter(function (tid) { return results[tid] === "accept"; });
        // The user tapped 允许 inside WeChat: WeChat grants one credit per template.
        var grants = accepted.reduce(function (p, tid) {
          return p.then(function () {
            return request("POST", SANDBOX + "/subscriptions", { openid: state.openid, template_id: tid });
          });
        }, Promise.resolve());
        return grants.then(function () {
          return api("POST", "/subscriptions", { results: results });
        }).then(function () { return results; });
      });
    }).catch(function (err) {
      warning = "订阅消息授权未完成：" + err.message;
      return null;
    }).then(function (results) {
      return { results: results, warning: warning };
    });
  }

  $("confirm-cancel").addEventListener("click", function () {
    var interview = state.current;
    var reason = state.reason;
    if (state.busy || !interview) return;
    if (!reason) { sheetError("请选择取消原因"); return; }
    var note = noteValue();
    if (reason.requires_note && !note) { sheetError("请填写具体原因"); $("note-input").focus(); return; }
    if (note.length > (reason.note_max_length || 200)) {
      sheetError("说明最多 " + (reason.note_max_length || 200) + " 个字");
      return;
    }
    state.busy = true;
    updateConfirm();
    $("sheet-error").hidden = true;
    clearError();
    showLoading("提交中");
    var subscription = null;
    subscribe().then(function (sub) {
      subscription = sub;
      var body = { reason_code: reason.code };
      if (note) body.note = note;
      // Same key for a retry of a request that never got an answer; new key otherwise.
      if (!state.cancelKey) state.cancelKey = uuid4();
      return api("POST", "/interviews/" + encodeURIComponent(interview.id) + "/cancel", body,
        { "Idempotency-Key": state.cancelKey });
    }).then(function (data) {
      state.cancelKey = null;
      state.listStale = false;
      closeReasonSheet();
      showResult(interview, data, subscription);
    }).catch(function (err) {
      if (!err.network) state.cancelKey = null;
      // e.g. 409 already_cancelled: the list behind the sheet is out of date
      if (err.status === 409 || err.status === 404) state.listStale = true;
      sheetError(err.message);
    }).then(function () {
      state.busy = false;
      hideLoading();
      updateConfirm();
    });
  });

  // ------------------------------------------------ 6. 确认参加 and 改期

  var toastTimer = null;
  function showToast(text) {
    $("toast-text").textContent = text;
    $("toast").hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { $("toast").hidden = true; }, 2500);
  }

  /** 确认参加: the mini program asks for the reminder / change notices first (their
   *  credits let us remind and tell of changes), then confirms. */
  function confirmAttendance(interview) {
    if (state.busy) return;
    state.busy = true;
    clearError();
    showLoading("提交中");
    subscribe("schedule").then(function (sub) {
      return api("POST", "/interviews/" + encodeURIComponent(interview.id) + "/confirm", {})
        .then(function (data) {
          var it = (data && data.interview) || interview;
          state.interviews = state.interviews.map(function (x) { return x.id === it.id ? it : x; });
          renderInterviews();
          showToast("已确认参加");
          if (sub && sub.warning) showError(sub.warning);
        });
    }).catch(function (err) {
      showError(err.message);
      if (err.status === 409 || err.status === 404) loadInterviews();
    }).then(function () {
      state.busy = false;
      hideLoading();
    });
  }

  function openSlotSheet(interview) {
    if (state.busy) return;
    clearError();
    state.moving = interview;
    state.slot = null;
    state.moveKey = null;
    $("slot-sub").textContent = "当前：" + formatTime(interview.scheduled_at);
    $("slot-error").hidden = true;
    updateReschedule();
    showLoading("加载中");
    api("GET", "/interviews/" + encodeURIComponent(interview.id) + "/reschedule-slots")
      .then(function (data) {
        renderSlots((data && data.items) || [], interview);
        $("slot-mask").hidden = false;
        $("slot-sheet").hidden = false;
      }).catch(function (err) {
        showError(err.message);
      }).then(hideLoading);
  }

  function renderSlots(slots, interview) {
    var list = $("slot-list");
    clear(list);
    $("slot-empty").hidden = slots.length > 0;
    slots.forEach(function (slot) {
      list.appendChild(h("button", {
        type: "button", role: "radio", "aria-checked": "false",
        "class": "reason-option", "data-testid": "slot-option", "data-slot-id": slot.slot_id,
        onclick: function () { pickSlot(slot); }
      }, [
        h("span", {}, [
          formatSlot(slot.starts_at, interview.duration_minutes),
          h("span", { "class": "slot-remaining", text: "剩余 " + slot.remaining + " 个名额" })
        ]),
        h("span", { "class": "radio" })
      ]));
    });
  }

  function pickSlot(slot) {
    state.slot = slot;
    state.moveKey = null;
    Array.prototype.forEach.call(document.querySelectorAll("#slot-list .reason-option"), function (el) {
      el.setAttribute("aria-checked", el.getAttribute("data-slot-id") === slot.slot_id ? "true" : "false");
    });
    $("slot-error").hidden = true;
    updateReschedule();
  }

  function updateReschedule() {
    $("confirm-reschedule").disabled = state.busy || !state.slot;
  }

  function closeSlotSheet() {
    $("slot-mask").hidden = true;
    $("slot-sheet").hidden = true;
  }
  $("slot-close").addEventListener("click", function () { if (!state.busy) closeSlotSheet(); });
  $("slot-mask").addEventListener("click", function () { if (!state.busy) closeSlotSheet(); });

  $("confirm-reschedule").addEventListener("click", function () {
    var interview = state.moving;
    var slot = state.slot;
    if (state.busy || !interview || !slot) return;
    state.busy = true;
    updateReschedule();
    showLoading("提交中");
    if (!state.moveKey) state.moveKey = uuid4();
    api("POST", "/interviews/" + encodeURIComponent(interview.id) + "/reschedule",
      { slot_id: slot.slot_id }, { "Idempotency-Key": state.moveKey })
      .then(function (data) {
        state.moveKey = null;
        closeSlotSheet();
        var it = (data && data.interview) || interview;
        state.interviews = state.interviews.map(function (x) { return x.id === it.id ? it : x; });
        renderInterviews();
        showToast("已改期至 " + formatTime(it.scheduled_at));
      }).catch(function (err) {
        if (!err.network) state.moveKey = null;
        var el = $("slot-error");
        el.textContent = err.message;
        el.hidden = false;
      }).then(function () {
        state.busy = false;
        hideLoading();
        updateReschedule();
      });
  });

  // ---------------------------------------------------------- 5. result + messages

  function showResult(interview, data, subscription) {
    var pending = data && data.status === "cancel_pending";
    var icon = $("result-icon");
    icon.textContent = pending ? "!" : "✓";
    icon.className = "result-icon" + (pending ? " pending" : "");
    $("result-status").textContent = pending ? "已提交取消申请，等待HR审核" : "已取消";
    phone.setAttribute("data-result", (data && data.status) || "");
    var it = (data && data.interview) || interview;
    var desc = $("result-desc");
    clear(desc);
    var pos = (it.position && it.position.title) || "";
    desc.appendChild(h("div", { text: pos + " · " + formatTime(it.scheduled_at) }));
    var label = data && data.cancellation && data.cancellation.reason_label;
    if (label) desc.appendChild(h("div", { text: "取消原因：" + label }));
    if (subscription && subscription.warning) {
      desc.appendChild(h("div", { "class": "form-error", text: subscription.warning }));
    } else if (subscription && subscription.results) {
      var ok = Object.keys(subscription.results).some(function (k) {
        return subscription.results[k] === "accept";
      });
      desc.appendChild(h("div", { text: ok ? "已允许接收微信通知" : "你拒绝了微信通知，将通过短信告知" }));
    }
    // keep the list in step with what the API answered
    state.interviews = state.interviews.map(function (x) { return x.id === it.id ? it : x; });
    showScreen("result");
    clear($("message-list"));
    state.messagesSeen = "";
    startPolling();
  }

  function startPolling() {
    stopPolling();
    var started = Date.now();
    var tick = function () {
      var left = Math.max(0, Math.ceil((POLL_DURATION_MS - (Date.now() - started)) / 1000));
      $("poll-state").textContent = "自动刷新中（" + left + " 秒）";
      request("GET", SANDBOX + "/messages?touser=" + encodeURIComponent(state.openid))
        .then(function (data) { renderMessages((data && data.items) || []); })
        .catch(function (err) { $("poll-state").textContent = "获取消息失败：" + err.message; })
        .then(function () {
          if (!state.poll) return;
          if (Date.now() - started >= POLL_DURATION_MS) {
            state.poll = null;
            $("poll-state").textContent = "已停止自动刷新";
          } else {
            state.poll = setTimeout(tick, POLL_INTERVAL_MS);
          }
        });
    };
    state.poll = setTimeout(tick, 0);
  }

  function stopPolling() {
    if (state.poll) clearTimeout(state.poll);
    state.poll = null;
  }

  function renderMessages(items) {
    var key = items.map(function (m) { return m.msgid + "@" + m.at; }).join("|");
    if (key === state.messagesSeen && items.length) return;
    state.messagesSeen = key;
    var list = $("message-list");
    clear(list);
    if (!items.length) {
      list.appendChild(h("div", { "class": "empty", text: "暂未收到消息" }));
      return;
    }
    items.slice().sort(function (a, b) { return String(b.at).localeCompare(String(a.at)); })
      .forEach(function (m) { list.appendChild(messageCard(m)); });
  }

  /** Template keys in template order: thing1, time2, thing3 ... (the trailing number). */
  function fieldOrder(a, b) {
    var na = parseInt((a.match(/(\d+)$/) || [0, 0])[1], 10);
    var nb = parseInt((b.match(/(\d+)$/) || [0, 0])[1], 10);
    return na - nb || (a < b ? -1 : a > b ? 1 : 0);
  }

  /** The one-time open token in a message's page ("pages/message/open?t=..."), if any. */
  function openToken(page) {
    var q = String(page || "").split("?")[1];
    if (!q) return null;
    var found = null;
    q.split("&").forEach(function (pair) {
      var kv = pair.split("=");
      if (kv[0] === "t" && kv[1]) found = decodeURIComponent(kv[1]);
    });
    return found;
  }

  /** Tapping a service notification opens its page: the mini program reports the open. */
  function openMessage(token, foot) {
    if (foot.getAttribute("aria-busy") === "true") return;
    foot.setAttribute("aria-busy", "true");
    api("POST", "/notifications/" + encodeURIComponent(token) + "/open", {}).then(function (data) {
      var label = foot.querySelector(".msg-open-state");
      label.textContent = "已打开，已记录为已读" + (data && data.open_count > 1 ? "（第 " + data.open_count + " 次）" : "");
      foot.classList.add("opened");
    }).catch(function (err) {
      showError(err.message);
    }).then(function () {
      foot.setAttribute("aria-busy", "false");
    });
  }

  function messageCard(m) {
    var data = m.data || {};
    var fields = Object.keys(data).sort(fieldOrder).map(function (k) {
      var v = data[k];
      var value = v && typeof v === "object" ? v.value : v;
      return h("div", { "class": "msg-field" }, [
        h("dt", { text: FIELD_LABELS[k] || k }),
        h("dd", { text: value === undefined || value === null ? "" : String(value) })
      ]);
    });
    var kind = m.api === "subscribe_send" ? "服务通知" : (m.api === "template_send" ? "模板消息" : (m.api || "消息"));
    return h("div", {
      "class": "message-card", "data-testid": "message-card",
      "data-api": m.api || "", "data-msgid": m.msgid === undefined ? "" : String(m.msgid)
    }, [
      h("div", { "class": "msg-head" }, [
        h("span", { "class": "msg-logo", text: "AI" }),
        h("span", { text: "AI面试助手 · " + kind }),
        h("span", { "class": "msg-time", text: formatClock(m.at) })
      ]),
      TEMPLATE_TITLES[m.template_id] ? h("div", { "class": "msg-title", text: TEMPLATE_TITLES[m.template_id] }) : null,
      h("dl", { "class": "msg-fields" }, fields),
      messageFoot(m),
      h("div", { "class": "msg-meta", text: "模板 " + (m.template_id || "-") + (m.page ? " · 页面 " + m.page : "") })
    ]);
  }

  function messageFoot(m) {
    if (!m.page) return null;
    var token = m.api === "subscribe_send" ? openToken(m.page) : null;
    if (!token) {
      return h("div", { "class": "msg-foot" }, [h("span", { text: "进入小程序查看" }), h("span", { text: "›" })]);
    }
    var foot = h("button", { type: "button", "class": "msg-foot msg-open", "data-testid": "message-open" }, [
      h("span", { "class": "msg-open-state", text: "进入小程序查看" }), h("span", { text: "›" })
    ]);
    foot.addEventListener("click", function () { openMessage(token, foot); });
    return foot;
  }

  function backToList() {
    stopPolling();
    showScreen("interviews");
    loadInterviews();
  }
  $("back-button").addEventListener("click", backToList);

  // ------------------------------------------------------------------ start

  showScreen("login");
  loadCandidates();
})();
