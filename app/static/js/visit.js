/* The visit workspace (templates/clinic/visit/workspace.html): autosave of the draft through
   POST /api/v1/encounters/<id>/draft with the version the page shows (a save refused because the
   record changed in another tab says so and stops), vitals flagged and BMI computed as they are
   typed (the normal ranges come from the server: app.services.encounters.NORMAL_RANGES), Ctrl+S
   saves, Sign and Discard ask first. Numbers are typed the reader's way ("37,8" in Vietnamese)
   and dates as dd/mm/yyyy in Vietnamese; they are sent as JSON numbers and ISO dates. */
(function () {
    "use strict";
    var root = document.getElementById("visit-workspace");
    if (!root) { return; }
    var data = root.dataset;
    var form = document.getElementById("visit-form");
    var editable = data.editable === "true" && form;
    var language = (data.language || "en").slice(0, 2);
    var normal = JSON.parse(data.normal || "{}");
    var status = document.getElementById("save-status");
    var versionInput = document.getElementById("visit-version");
    var version = parseInt(data.version, 10);
    var AUTOSAVE_MS = 2500;
    var timer = null, saving = null, dirty = false, stopped = false;

    function fields() {
        return Array.prototype.slice.call(document.querySelectorAll("[form=visit-form][name]"));
    }

    function parseNumber(text) {
        var t = (text || "").replace(/\s+/g, "");
        if (t === "") { return null; }
        t = language === "vi" ? t.replace(/\./g, "").replace(",", ".") : t.replace(/,/g, "");
        return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : text;  // not a number: the server names it
    }

    function parseDate(text) {
        var t = (text || "").trim(), m;
        if (t === "") { return null; }
        if ((m = /^(\d{1,2})[\/.\-](\d{1,2})[\/.\-](\d{4})$/.exec(t))) {
            var day = language === "en" ? m[2] : m[1], month = language === "en" ? m[1] : m[2];
            return m[3] + "-" + ("0" + month).slice(-2) + "-" + ("0" + day).slice(-2);
        }
        return t;  // ISO (yyyy-mm-dd) as it is, or something the server refuses with a message
    }

    function formatNumber(value) {
        var text = String(Math.round(value * 10) / 10);
        return language === "vi" ? text.replace(".", ",") : text;
    }

    function payload() {
        var body = {version: version};
        fields().forEach(function (input) {
            var name = input.name;
            if (name === "csrf_token" || name === "version") { return; }
            if (input.dataset.places !== undefined) {
                body[name] = parseNumber(input.value);
            } else if (name === "follow_up_date") {
                body[name] = parseDate(input.value);
            } else {
                body[name] = input.value;
            }
        });
        return body;
    }

    function setStatus(text, kind) {
        if (!status) { return; }
        status.textContent = text;
        status.className = "visit-save-status " + (kind === "error" ? "text-danger" : kind === "ok" ? "text-success" : "text-muted");
    }

    function clearErrors() {
        document.querySelectorAll(".visit-field.has-error").forEach(function (group) {
            group.classList.remove("has-error");
            var help = group.querySelector(".field-error");
            if (help) { help.textContent = ""; }
        });
    }

    function showErrors(messages) {
        Object.keys(messages || {}).forEach(function (name) {
            var group = document.querySelector('.visit-field[data-field="' + name + '"]');
            var text = [].concat(messages[name]).join(" ");
            if (!group) { return; }
            group.classList.add("has-error");
            var help = group.querySelector(".field-error");
            if (help) { help.textContent = text; }
        });
    }

    function flag(field, value) {
        var range = normal[field];
        if (value === null || typeof value !== "number" || !range) { return ""; }
        if (value < Number(range[0])) { return "low"; }
        if (value > Number(range[1])) { return "high"; }
        return "";
    }

    function showFlag(field, kind) {
        var group = document.querySelector('.visit-field[data-field="' + field + '"]');
        var label = document.querySelector('[data-flag-for="' + field + '"]');
        if (!group || !label) { return; }
        group.classList.remove("vital-high", "vital-low");
        if (kind) { group.classList.add("vital-" + kind); }
        label.textContent = kind ? data["flag" + kind.charAt(0).toUpperCase() + kind.slice(1)] : "";
    }

    function refreshVitals() {
        var values = {};
        fields().forEach(function (input) {
            if (input.dataset.places !== undefined) {
                values[input.name] = parseNumber(input.value);
                showFlag(input.name, flag(input.name, values[input.name]));
            }
        });
        var h = values.height_cm, w = values.weight_kg, bmi = null;
        if (typeof h === "number" && typeof w === "number" && h > 0 && w > 0) {
            bmi = Math.round(w / Math.pow(h / 100, 2) * 10) / 10;
        }
        var out = document.getElementById("visit-bmi");
        if (out) { out.textContent = bmi === null ? "—" : formatNumber(bmi); }
        showFlag("bmi", flag("bmi", bmi));
    }

    function save() {
        if (!editable || stopped) { return Promise.resolve(false); }
        if (saving) { return saving.then(function () { return dirty ? save() : true; }); }
        clearTimeout(timer);
        dirty = false;
        setStatus(data.msgSaving, "");
        saving = fetch(data.api, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-CSRFToken": data.csrf, "Accept": "application/json"},
            body: JSON.stringify(payload())
        }).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (answer) {
                clearErrors();
                if (response.ok) {
                    version = answer.result.version;
                    if (versionInput) { versionInput.value = version; }
                    setStatus(data.msgSaved.replace("{time}", answer.result.saved_time), "ok");
                    return true;
                }
                dirty = true;
                if (response.status === 409) {
                    stopped = true;  // another tab changed the record: never overwrite it
                    setStatus(typeof answer.message === "string" ? answer.message :
                        [].concat((answer.message || {}).version || []).join(" "), "error");
                } else if (answer.message && typeof answer.message === "object") {
                    showErrors(answer.message);
                    setStatus(data.msgFailed, "error");
                } else {
                    setStatus(answer.message || data.msgFailed, "error");
                }
                return false;
            });
        }).catch(function () {
            dirty = true;
            setStatus(data.msgOffline, "error");
            timer = setTimeout(save, AUTOSAVE_MS * 4);
            return false;
        }).then(function (ok) { saving = null; return ok; });
        return saving;
    }

    function changed() {
        dirty = true;
        if (!stopped) { setStatus(data.msgUnsaved, ""); }
        clearTimeout(timer);
        timer = setTimeout(save, AUTOSAVE_MS);
    }

    var finish = document.querySelector("form.visit-finish");
    if (finish && finish.dataset.unsigned === "true") {  // finishing a draft is allowed, after a question
        finish.addEventListener("submit", function (event) {
            if (!window.confirm(data.msgFinishUnsigned)) { event.preventDefault(); }
        });
    }

    if (!editable) { return; }  // a signed or someone else's record: the server's flags and BMI stand
    refreshVitals();

    fields().forEach(function (input) {
        input.addEventListener("input", function () {
            if (input.dataset.places !== undefined) { refreshVitals(); }
            changed();
        });
    });

    document.addEventListener("keydown", function (event) {
        if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
            event.preventDefault();
            save();
        }
    });

    form.addEventListener("submit", function (event) {
        var button = event.submitter;
        var action = button && button.getAttribute("formaction");
        event.preventDefault();
        if (button && button.id === "visit-save") { save(); return; }
        var question = button && button.id === "visit-sign" ? data.msgSign :
            button && button.id === "visit-discard" ? data.msgDiscard : null;
        if (question && !window.confirm(question)) { return; }
        var go = function () {
            dirty = false;
            form.action = action || form.action;
            HTMLFormElement.prototype.submit.call(form);
        };
        if (button && button.id === "visit-discard") { go(); return; }
        save().then(function (ok) { if (ok !== false && !stopped) { go(); } });
    });

    var followUp = document.querySelector(".visit-follow-up");
    if (followUp) {
        followUp.addEventListener("submit", function (event) {
            event.preventDefault();
            var send = function () { HTMLFormElement.prototype.submit.call(followUp); };
            if (!dirty) { send(); return; }
            save().then(function (ok) { if (ok) { send(); } });
        });
    }

    window.addEventListener("beforeunload", function (event) {
        if (dirty && !stopped) { save(); event.preventDefault(); event.returnValue = ""; }
    });
}());
