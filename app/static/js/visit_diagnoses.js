// The visit's diagnoses (templates/clinic/visit/_diagnoses.html), on a draft of this doctor.
// Search as you type (debounced) in the ICD-10 table over code and both titles; the arrow keys
// move through the matches, Enter adds the highlighted one (the first if none is), Esc closes
// the list. The first diagnosis of a visit is added as its primary one. Each row's wording can be
// edited in place (Enter saves, Esc cancels), and it can be made primary or secondary and removed. Every change goes through the REST API with the browser
// session and its CSRF header; the server checks every rule and its message is shown on a refusal.
(function () {
    "use strict";

    var section = document.getElementById("visit-diagnoses");
    if (!section || section.dataset.editable !== "true") {
        return;
    }
    var data = section.dataset;
    var input = document.getElementById("dx-query");
    var options = document.getElementById("dx-options");
    var list = document.getElementById("dx-list");
    var empty = document.getElementById("dx-empty");
    var message = document.getElementById("dx-message");
    var matches = [];
    var active = -1;
    var timer = null;
    var sequence = 0;
    var busy = false;

    function showMessage(text) {
        message.textContent = text || "";
        message.hidden = !text;
    }

    // A refusal's message: a text, or an object naming each broken field with its reasons.
    function errorText(body, fallback) {
        var m = body && body.message;
        if (typeof m === "string") {
            return m;
        }
        if (m && typeof m === "object") {
            var parts = [];
            Object.keys(m).forEach(function (key) {
                parts.push([].concat(m[key]).join(" "));
            });
            return parts.join(" ") || fallback;
        }
        return fallback;
    }

    function call(method, url, body) {
        var headers = {"Accept": "application/json"};
        if (method !== "GET") {
            headers["X-CSRFToken"] = data.csrf;
            headers["Content-Type"] = "application/json";
        }
        return fetch(url, {
            method: method, credentials: "same-origin", headers: headers,
            body: body === undefined ? undefined : JSON.stringify(body)
        }).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (json) {
                if (!response.ok) {
                    throw new Error(errorText(json, data.labelFailed));
                }
                return json;
            });
        });
    }

    // --- the search list ---------------------------------------------------------------------

    function closeOptions() {
        options.hidden = true;
        options.textContent = "";
        input.setAttribute("aria-expanded", "false");
        input.removeAttribute("aria-activedescendant");
        matches = [];
        active = -1;
    }

    function highlight(index) {
        var items = options.querySelectorAll(".dx-option");
        if (!items.length) {
            return;
        }
        active = (index + items.length) % items.length;
        Array.prototype.forEach.call(items, function (item, i) {
            item.classList.toggle("active", i === active);
            item.setAttribute("aria-selected", i === active ? "true" : "false");
        });
        input.setAttribute("aria-activedescendant", items[active].id);
        items[active].scrollIntoView({block: "nearest"});
    }

    function showOptions(found) {
        options.textContent = "";
        matches = found;
        active = -1;
        if (!found.length) {
            var none = document.createElement("li");
            none.className = "dx-option-empty";
            none.textContent = data.labelNoMatch;
            options.appendChild(none);
        }
        found.forEach(function (entry, i) {
            var item = document.createElement("li");
            item.className = "dx-option";
            item.id = "dx-option-" + i;
            item.setAttribute("role", "option");
            item.setAttribute("aria-selected", "false");
            item.dataset.code = entry.code;
            var code = document.createElement("span");
            code.className = "dx-option-code";
            code.textContent = entry.code;
            var title = document.createElement("span");
            title.className = "dx-option-title";
            title.textContent = entry.title;
            item.appendChild(code);
            item.appendChild(title);
            item.addEventListener("mousedown", function (event) {
                event.preventDefault();  // keep the focus in the search field
                pick(entry);
            });
            options.appendChild(item);
        });
        options.hidden = false;
        input.setAttribute("aria-expanded", "true");
    }

    function search() {
        var query = input.value.trim();
        var mine = ++sequence;
        if (!query) {
            closeOptions();
            return;
        }
        call("GET", data.search + "?q=" + encodeURIComponent(query) + "&limit=15").then(function (json) {
            if (mine === sequence) {  // an older answer arriving late is dropped
                showOptions(json.result || []);
            }
        }).catch(function () {
            if (mine === sequence) {
                closeOptions();
                showMessage(data.labelSearchFailed);
            }
        });
    }

    input.addEventListener("input", function () {
        showMessage("");
        clearTimeout(timer);
        timer = setTimeout(search, 200);
    });

    input.addEventListener("keydown", function (event) {
        if (event.key === "ArrowDown" || event.key === "ArrowUp") {
            if (options.hidden) {
                search();
                return;
            }
            event.preventDefault();
            highlight(active + (event.key === "ArrowDown" ? 1 : -1));
        } else if (event.key === "Enter") {
            event.preventDefault();
            if (!options.hidden && matches.length) {
                pick(matches[active >= 0 ? active : 0]);
            }
        } else if (event.key === "Escape") {
            if (!options.hidden) {
                event.preventDefault();
                closeOptions();
            }
        }
    });

    input.addEventListener("blur", function () {
        setTimeout(closeOptions, 150);
    });

    // --- the visit's diagnoses -----------------------------------------------------------------

    function hasPrimary() {
        return list.querySelector('.dx-item[data-primary="true"]') !== null;
    }

    function render(diagnoses) {
        list.textContent = "";
        diagnoses.forEach(function (dx) {
            var item = document.createElement("li");
            item.className = "dx-item";
            item.dataset.id = dx.id;
            item.dataset.primary = dx.is_primary ? "true" : "false";
            var code = document.createElement("span");
            code.className = "dx-code";
            code.textContent = dx.icd10_code;
            var text = document.createElement("span");
            text.className = "dx-text";
            text.textContent = dx.text;
            var kind = document.createElement("span");
            kind.className = "label dx-kind " + (dx.is_primary ? "label-primary" : "label-default");
            kind.textContent = dx.is_primary ? data.labelPrimary : data.labelSecondary;
            var actions = document.createElement("span");
            actions.className = "dx-actions";
            var edit = document.createElement("button");
            edit.type = "button";
            edit.className = "btn btn-link btn-xs dx-edit";
            edit.textContent = data.labelEdit;
            edit.setAttribute("aria-label", data.labelEdit + " " + dx.icd10_code);
            actions.appendChild(edit);
            actions.appendChild(document.createTextNode(" "));
            var toggle = document.createElement("button");
            toggle.type = "button";
            toggle.className = "btn btn-default btn-xs dx-toggle";
            toggle.textContent = dx.is_primary ? data.labelMakeSecondary : data.labelMakePrimary;
            var remove = document.createElement("button");
            remove.type = "button";
            remove.className = "btn btn-link btn-xs dx-remove";
            remove.textContent = data.labelRemove;
            remove.setAttribute("aria-label", data.labelRemove + " " + dx.icd10_code);
            actions.appendChild(toggle);
            actions.appendChild(document.createTextNode(" "));
            actions.appendChild(remove);
            [code, text, kind, actions].forEach(function (part) {
                item.appendChild(part);
                item.appendChild(document.createTextNode(" "));
            });
            list.appendChild(item);
        });
        empty.hidden = diagnoses.length > 0;
    }

    function change(promise, after) {
        busy = true;
        showMessage("");
        return promise.then(function (json) {
            render(json.diagnoses || json.result || []);
            if (after) {
                after();
            }
        }).catch(function (error) {
            showMessage(error.message || data.labelFailed);
        }).then(function () {
            busy = false;
        });
    }

    function pick(entry) {
        if (busy) {
            return;
        }
        closeOptions();
        change(call("POST", data.api, {icd10_code: entry.code, is_primary: !hasPrimary()}), function () {
            input.value = "";
            input.focus();
        });
    }

    // The wording in place: the text becomes a field; Enter saves it, Esc (or leaving it) cancels.
    function editWording(item, url) {
        var text = item.querySelector(".dx-text");
        if (!text || item.querySelector(".dx-wording")) {
            return;
        }
        var field = document.createElement("input");
        field.type = "text";
        field.className = "form-control input-sm dx-wording";
        field.maxLength = 300;
        field.value = text.textContent;
        field.setAttribute("aria-label", data.labelWording);
        text.hidden = true;
        text.parentNode.insertBefore(field, text);
        field.focus();
        field.select();
        var done = false;
        function cancel() {
            if (!done) {
                done = true;
                field.remove();
                text.hidden = false;
            }
        }
        field.addEventListener("keydown", function (event) {
            if (event.key === "Escape") {
                event.preventDefault();
                cancel();
                item.querySelector(".dx-edit").focus();
            } else if (event.key === "Enter") {
                event.preventDefault();
                done = true;
                change(call("PATCH", url, {text: field.value}), function () {
                    var again = list.querySelector('.dx-item[data-id="' + item.dataset.id + '"] .dx-edit');
                    if (again) {
                        again.focus();
                    }
                }).then(function () {
                    if (field.isConnected) {  // refused: the field stays for a correction
                        done = false;
                        field.focus();
                    }
                });
            }
        });
        field.addEventListener("blur", function () {
            setTimeout(function () {
                if (!busy) {
                    cancel();
                }
            }, 150);
        });
    }

    list.addEventListener("click", function (event) {
        var button = event.target.closest("button");
        var item = button && button.closest(".dx-item");
        if (!item || busy) {
            return;
        }
        var url = data.api + "/" + item.dataset.id;
        if (button.classList.contains("dx-edit")) {
            editWording(item, url);
        } else if (button.classList.contains("dx-remove")) {
            change(call("DELETE", url), function () { input.focus(); });
        } else if (button.classList.contains("dx-toggle")) {
            var primary = item.dataset.primary !== "true";
            change(call("PATCH", url, {is_primary: primary}), function () {
                var again = list.querySelector('.dx-item[data-id="' + item.dataset.id + '"] .dx-toggle');
                if (again) {
                    again.focus();
                }
            });
        }
    });
}());
