/* The visit's prescription section (templates/clinic/visit/_prescription.html).
 *
 * Everything goes through /api/v1/visit_prescription/ with the session cookie and the
 * X-CSRFToken header; the server computes the warnings and the rules. Saving is two steps when
 * there are warnings: "Check and save" asks the server for the warnings of the item as typed
 * (preview, nothing written); they are shown with a box to confirm them, and a reason box for an
 * allergy or a severe interaction; the item is saved only with the warnings confirmed.
 */
(function () {
    "use strict";
    var section = document.getElementById("rx-section");
    if (!section) { return; }
    var t = JSON.parse(document.getElementById("rx-i18n").getAttribute("data-messages"));
    var api = section.getAttribute("data-api");
    var medicinesUrl = section.getAttribute("data-medicines");
    var csrf = section.getAttribute("data-csrf");
    var editable = section.getAttribute("data-editable") === "true";
    var tbody = section.querySelector("#rx-items tbody");
    var empty = section.querySelector("#rx-empty");
    var status = section.querySelector("#rx-status");
    var form = section.querySelector("#rx-form");
    var items = [];

    function fmt(text, n) { return text.replace("{n}", n); }

    function request(method, url, body) {
        var headers = {"Accept": "application/json"};
        if (body !== undefined) { headers["Content-Type"] = "application/json"; }
        if (method !== "GET") { headers["X-CSRFToken"] = csrf; }
        return fetch(url, {method: method, credentials: "same-origin", headers: headers,
                           body: body === undefined ? undefined : JSON.stringify(body)})
            .then(function (response) {
                return response.json().catch(function () { return {}; }).then(function (data) {
                    return {ok: response.ok, status: response.status, data: data};
                });
            });
    }

    function el(tag, attrs, text) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
        if (text !== undefined && text !== null) { node.textContent = text; }
        return node;
    }

    function warningText(w) { return w.message; }

    // ---- the list of items ----------------------------------------------------------------
    function render(prescription) {
        items = prescription.items || [];
        editable = editable && prescription.editable;
        tbody.textContent = "";
        empty.hidden = items.length > 0;
        items.forEach(function (item) {
            var tr = el("tr", {"data-item": item.id});
            var name = el("td", {"data-label": section.querySelector("#rx-items th:nth-child(1)").textContent});
            name.appendChild(el("strong", {}, item.medicine));
            if (item.active_ingredient) { name.appendChild(el("div", {"class": "text-muted small"}, item.active_ingredient)); }
            tr.appendChild(name);
            var dosage = [item.dose, item.times_per_day ? fmt(t.times_a_day, item.times_per_day) : item.frequency,
                          (t.routes[item.route] || item.route)].join(" · ");
            var dcell = el("td", {"data-label": section.querySelector("#rx-items th:nth-child(2)").textContent}, dosage);
            if (item.instructions) { dcell.appendChild(el("div", {"class": "small"}, item.instructions)); }
            tr.appendChild(dcell);
            tr.appendChild(el("td", {"data-label": section.querySelector("#rx-items th:nth-child(3)").textContent},
                              fmt(t.days, item.duration_days)));
            tr.appendChild(el("td", {"data-label": section.querySelector("#rx-items th:nth-child(4)").textContent},
                              item.quantity + " " + item.unit));
            var wcell = el("td", {"data-label": section.querySelector("#rx-items th:nth-child(5)").textContent});
            (item.warnings || []).forEach(function (w) {
                wcell.appendChild(el("div", {"class": "rx-warning rx-" + w.severity}, warningText(w)));
            });
            if (item.override_reason) {
                wcell.appendChild(el("div", {"class": "rx-reason"}, t.reason + ": " + item.override_reason));
            }
            tr.appendChild(wcell);
            var actions = el("td", {"class": "rx-actions"});
            if (editable) {
                var edit = el("button", {"type": "button", "class": "btn btn-default btn-xs", "data-edit": item.id}, t.edit);
                var remove = el("button", {"type": "button", "class": "btn btn-danger btn-xs", "data-remove": item.id}, t.remove);
                edit.setAttribute("aria-label", t.edit + " " + item.medicine);
                remove.setAttribute("aria-label", t.remove + " " + item.medicine);
                actions.appendChild(edit);
                actions.appendChild(document.createTextNode(" "));
                actions.appendChild(remove);
            }
            tr.appendChild(actions);
            tbody.appendChild(tr);
        });
        if (form && !editable) { form.hidden = true; }
        if (prescription.status && prescription.status !== "draft" && !status.textContent) {
            status.textContent = t.issued;
        }
    }

    function reload() {
        return request("GET", api).then(function (answer) {
            if (answer.ok) { render(answer.data.result); }
            else { status.textContent = typeof answer.data.message === "string" ? answer.data.message : t.error; }
        }).catch(function () { status.textContent = t.error; });
    }

    reload();
    if (!form) { return; }

    // ---- the form ----------------------------------------------------------------------------
    var search = form.querySelector("#rx-medicine");
    var results = form.querySelector("#rx-results");
    var chosen = form.querySelector("#rx-chosen");
    var quantity = form.querySelector("#rx-quantity");
    var hint = form.querySelector("#rx-quantity-hint");
    var warningsBox = form.querySelector("#rx-warnings");
    var ack = form.querySelector("#rx-ack");
    var reasonGroup = form.querySelector("#rx-reason-group");
    var save = form.querySelector("#rx-save");
    var formError = form.querySelector(".rx-form-error");
    var medicine = null;   // {id, label, unit, countable}
    var quantityTouched = false;
    var previewed = null;  // the input the warnings shown were computed for
    var timer = null;
    var active = -1;

    function field(name) { return form.elements[name]; }

    function clearErrors() {
        form.querySelectorAll("[data-field]").forEach(function (group) {
            group.classList.remove("has-error");
            var error = group.querySelector(".rx-error");
            if (error) { error.textContent = ""; }
        });
        formError.textContent = "";
    }

    function showErrors(data) {
        var message = data && data.message;
        if (message && typeof message === "object") {
            var first = null;
            Object.keys(message).forEach(function (name) {
                var group = form.querySelector('[data-field="' + name + '"]');
                var text = [].concat(message[name]).join(" ");
                if (group) {
                    group.hidden = false;
                    group.classList.add("has-error");
                    group.querySelector(".rx-error").textContent = text;
                    first = first || group.querySelector("input, select, textarea");
                } else {
                    formError.textContent = (formError.textContent + " " + text).trim();
                }
            });
            if (!formError.textContent && !first) { formError.textContent = t.fix_fields; }
            if (first) { first.focus(); }
        } else {
            formError.textContent = message || t.error;
        }
    }

    function setUnit(unit) {
        form.querySelectorAll(".rx-unit").forEach(function (span) { span.textContent = unit ? "(" + unit + ")" : ""; });
    }

    function chooseMedicine(m) {
        medicine = m;
        field("medicine_id").value = m ? m.id : "";
        chosen.textContent = m ? m.label + (m.active_ingredient ? " — " + m.active_ingredient : "") : "";
        search.value = m ? m.label : "";
        setUnit(m ? m.unit : "");
        closeResults();
        resetWarnings();
        updateQuantity();
    }

    function closeResults() {
        results.hidden = true;
        results.textContent = "";
        search.setAttribute("aria-expanded", "false");
        search.removeAttribute("aria-activedescendant");
        active = -1;
    }

    function showResults(list) {
        results.textContent = "";
        active = -1;
        if (!list.length) {
            results.appendChild(el("li", {"class": "list-group-item text-muted"}, t.none_found));
        }
        list.forEach(function (m, i) {
            var li = el("li", {"class": "list-group-item rx-option", "role": "option", "id": "rx-option-" + i,
                               "data-index": i, "aria-selected": "false"});
            li.appendChild(el("strong", {}, m.label));
            li.appendChild(document.createTextNode(" "));
            li.appendChild(el("span", {"class": "text-muted"}, (m.active_ingredient || "") + " · " + (m.dosage_form || m.unit)));
            li.addEventListener("mousedown", function (event) { event.preventDefault(); chooseMedicine(m); });
            results.appendChild(li);
        });
        results._list = list;
        results.hidden = false;
        search.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
        var options = results.querySelectorAll(".rx-option");
        if (!options.length) { return; }
        active = (index + options.length) % options.length;
        options.forEach(function (o, i) {
            o.classList.toggle("active", i === active);
            o.setAttribute("aria-selected", i === active ? "true" : "false");
        });
        search.setAttribute("aria-activedescendant", options[active].id);
        options[active].scrollIntoView({block: "nearest"});
    }

    search.addEventListener("input", function () {
        if (medicine && search.value !== medicine.label) { medicine = null; field("medicine_id").value = ""; chosen.textContent = ""; }
        clearTimeout(timer);
        var q = search.value.trim();
        if (q.length < 2) { closeResults(); return; }
        timer = setTimeout(function () {
            request("GET", medicinesUrl + "?q=" + encodeURIComponent(q)).then(function (answer) {
                if (answer.ok && search.value.trim() === q) { showResults(answer.data.result); }
            });
        }, 200);
    });
    search.addEventListener("keydown", function (event) {
        if (results.hidden) { return; }
        if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
        else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
        else if (event.key === "Enter") {
            event.preventDefault();
            var list = results._list || [];
            var pick = list[active >= 0 ? active : 0];
            if (pick) { chooseMedicine(pick); field("dose_amount").focus(); }
        } else if (event.key === "Escape") { closeResults(); }
    });
    search.addEventListener("blur", function () { setTimeout(closeResults, 150); });

    function number(value) {
        var text = String(value || "").trim().replace(",", ".");
        return text === "" || isNaN(Number(text)) ? null : Number(text);
    }

    function updateQuantity() {
        var dose = number(field("dose_amount").value), times = number(field("times_per_day").value),
            days = number(field("duration_days").value);
        if (medicine && medicine.countable && dose > 0 && times > 0 && days > 0) {
            var computed = Math.ceil(Math.round(dose * times * days * 1000) / 1000);
            hint.textContent = fmt(t.computed, computed);
            if (!quantityTouched) { quantity.value = computed; }
        } else {
            hint.textContent = medicine && !medicine.countable ? t.enter_quantity : "";
        }
    }

    ["dose_amount", "times_per_day", "duration_days"].forEach(function (name) {
        field(name).addEventListener("input", updateQuantity);
    });
    quantity.addEventListener("input", function () { quantityTouched = quantity.value.trim() !== ""; });
    form.addEventListener("input", function (event) {
        if (event.target !== ack && event.target.name !== "override_reason" && previewed !== null) {
            if (JSON.stringify(body()) !== previewed) { resetWarnings(); }
        }
    });

    function body() {
        var raw = function (name) { return field(name).value.trim(); };
        var numeric = function (name) {
            var text = raw(name).replace(",", ".");
            if (text === "") { return null; }
            return isNaN(Number(text)) ? text : Number(text);
        };
        var data = {
            medicine_id: medicine ? medicine.id : null,
            dose_amount: numeric("dose_amount"), times_per_day: numeric("times_per_day"),
            duration_days: numeric("duration_days"), route: field("route").value,
            instructions: raw("instructions") || null, quantity: numeric("quantity")
        };
        return data;
    }

    function resetWarnings() {
        previewed = null;
        warningsBox.hidden = true;
        warningsBox.querySelector("ul").textContent = "";
        ack.checked = false;
        reasonGroup.hidden = true;
        save.textContent = t.save;
    }

    function showWarnings(preview, input) {
        var list = warningsBox.querySelector("ul");
        list.textContent = "";
        preview.warnings.forEach(function (w) {
            var li = el("li", {"class": "rx-warning rx-" + w.severity}, warningText(w));
            if (w.needs_reason) { li.appendChild(el("strong", {}, " (" + t.needs_reason + ")")); }
            list.appendChild(li);
        });
        warningsBox.hidden = false;
        reasonGroup.hidden = !preview.needs_reason;
        status.textContent = preview.needs_reason ? t.needs_ack_reason : t.needs_ack;  // not "Item saved." from before
        previewed = JSON.stringify(input);
        save.textContent = t.save_anyway;
        ack.focus();
    }

    function clearForm() {
        form.reset();
        field("item_id").value = "";
        quantityTouched = false;
        chooseMedicine(null);
        hint.textContent = "";
        clearErrors();
        resetWarnings();
        form.querySelector("#rx-form-title").textContent = t.add_title;
    }

    function itemUrl(id) { return api + "/items" + (id ? "/" + id : ""); }

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        clearErrors();
        status.textContent = "";  // every attempt replaces the previous item's answer
        var input = body();
        if (!medicine) {
            showErrors({message: {medicine_id: t.choose_medicine}});
            return;
        }
        var id = field("item_id").value;
        save.disabled = true;
        var step;
        if (previewed !== null && previewed === JSON.stringify(input)) {
            var data = Object.assign({}, input, {acknowledged: ack.checked,
                                                 override_reason: field("override_reason").value.trim() || null});
            step = request(id ? "PUT" : "POST", itemUrl(id), data).then(function (answer) {
                if (answer.ok) {
                    clearForm();
                    status.textContent = t.saved;
                    return reload().then(function () { search.focus(); });
                }
                if (answer.status === 409 && answer.data.warnings) { showWarnings({warnings: answer.data.warnings,
                    needs_reason: answer.data.warnings.some(function (w) { return w.needs_reason; })}, input); }
                showErrors(answer.data);
            });
        } else {
            var check = Object.assign({}, input, {item_id: id ? Number(id) : null});
            step = request("POST", api + "/preview", check).then(function (answer) {
                if (!answer.ok) { showErrors(answer.data); return; }
                var preview = answer.data.result;
                if (preview.warnings.length) { showWarnings(preview, input); return; }
                previewed = JSON.stringify(input);
                save.disabled = false;
                form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
            });
        }
        step.catch(function () { formError.textContent = t.error; }).then(function () { save.disabled = false; });
    });

    form.querySelector("#rx-cancel").addEventListener("click", function () { clearForm(); search.focus(); });

    tbody.addEventListener("click", function (event) {
        var target = event.target;
        var editId = target.getAttribute("data-edit"), removeId = target.getAttribute("data-remove");
        if (editId) {
            var item = items.filter(function (i) { return String(i.id) === editId; })[0];
            if (!item) { return; }
            clearForm();
            field("item_id").value = item.id;
            chooseMedicine({id: item.medicine_id, label: item.medicine, unit: item.unit,
                            active_ingredient: item.active_ingredient, countable: null});
            request("GET", medicinesUrl + "?q=" + encodeURIComponent(item.medicine)).then(function (answer) {
                var match = answer.ok && answer.data.result.filter(function (m) { return m.id === item.medicine_id; })[0];
                if (match && medicine && medicine.id === match.id) { medicine.countable = match.countable; }
            });
            field("dose_amount").value = item.dose_amount ? item.dose_amount.replace(".", ",") : "";
            field("times_per_day").value = item.times_per_day || "";
            field("duration_days").value = item.duration_days;
            field("route").value = item.route;
            field("instructions").value = item.instructions || "";
            quantity.value = item.quantity;
            quantityTouched = true;
            form.querySelector("#rx-form-title").textContent = t.edit_title;
            field("dose_amount").focus();
        } else if (removeId) {
            if (!window.confirm(t.confirm_remove)) { return; }
            request("DELETE", itemUrl(removeId)).then(function (answer) {
                if (answer.ok) { status.textContent = t.removed; reload(); }
                else { status.textContent = typeof answer.data.message === "string" ? answer.data.message : t.error; }
            });
        }
    });
})();
