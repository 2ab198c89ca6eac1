// The OA phone of the WeChat sandbox: a follower talks to our callback through
// /_sandbox/wechat/oa/inbound; messages WeChat delivered to them come from /messages.
(function () {
  "use strict";
  const base = location.pathname.replace(/\/oa\/phone$/, "");
  const chat = document.getElementById("chat");
  const openidInput = document.getElementById("openid");
  const shown = new Set();

  function bubble(kind, text, link) {
    const div = document.createElement("div");
    div.className = "msg " + kind;
    div.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.textContent = "\n查看详情";
      a.target = "_blank";
      div.appendChild(a);
    }
    chat.appendChild(div);
    chat.scrollTop = chat.scrollHeight;
  }

  async function call(method, path, body) {
    const response = await fetch(base + path, {
      method, headers: {"Content-Type": "application/json"},
      body: body ? JSON.stringify(body) : undefined});
    const data = await response.json();
    if (!response.ok) throw new Error(data.errmsg || response.status);
    return data;
  }

  async function act(action, fields, echo) {
    if (echo) bubble("me", echo);
    try {
      const answer = await call("POST", "/oa/inbound",
                                Object.assign({openid: openidInput.value.trim(), action}, fields));
      if (answer.reply) bubble("oa", answer.reply);
      else if (answer.callback_status !== 200) bubble("error", "回调返回 " + answer.callback_status);
    } catch (err) {
      bubble("error", "沙箱：" + err.message);
    }
    poll();
  }

  function noticeText(m) {
    if (m.api === "custom_send") return m.content;
    const values = Object.values(m.data || {}).map((item) => item.value);
    return values.join("\n");
  }

  async function poll() {
    const openid = openidInput.value.trim();
    if (!openid) return;
    try {
      const data = await call("GET", "/messages?touser=" + encodeURIComponent(openid));
      for (const m of data.items) {
        if (m.app !== "oa" || shown.has(m.msgid)) continue;
        shown.add(m.msgid);
        bubble(m.api === "custom_send" ? "oa" : "notice", noticeText(m), m.url);
      }
    } catch (err) { /* the next poll tries again */ }
  }

  async function loadMenu() {
    const nav = document.getElementById("menu");
    const data = await call("GET", "/menu");
    const buttons = (data.menu && data.menu.button) || [];
    if (!buttons.length) {
      nav.innerHTML = '<div class="hint">尚无菜单：运行 flask --app wsgi wechat sync-menu</div>';
      return;
    }
    for (const top of buttons) {
      const holder = document.createElement("div");
      holder.className = "top";
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = top.name;
      holder.appendChild(button);
      const subs = top.sub_button || [];
      if (subs.length) {
        const list = document.createElement("div");
        list.className = "subs";
        for (const sub of subs) list.appendChild(leaf(sub));
        holder.appendChild(list);
        button.addEventListener("click", () => holder.classList.toggle("open"));
      } else {
        button.addEventListener("click", () => press(top));
      }
      nav.appendChild(holder);
    }
  }

  function leaf(item) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = item.name;
    button.addEventListener("click", () => {
      document.querySelectorAll(".menu .top.open").forEach((el) => el.classList.remove("open"));
      press(item);
    });
    return button;
  }

  function press(item) {
    if (item.type === "click") act("click", {key: item.key}, "［菜单］" + item.name);
    else if (item.url) window.open(item.url, "_blank");
  }

  async function loadFollowers() {
    const data = await call("GET", "/followers");
    const list = document.getElementById("followers");
    for (const f of data.items) {
      const option = document.createElement("option");
      option.value = f.openid;
      list.appendChild(option);
    }
  }

  document.getElementById("compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    act("text", {content: text}, text);
  });
  openidInput.addEventListener("change", () => { chat.innerHTML = ""; shown.clear(); poll(); });

  loadMenu().catch(() => {});
  loadFollowers().catch(() => {});
  poll();
  setInterval(poll, 3000);
})();
