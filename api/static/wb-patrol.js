// 现场巡查: the phone's position for the record, and the parcels near it (no map tiles needed).
(function () {
  "use strict";
  function locate(done) {
    if (!navigator.geolocation) { done(null); return; }
    navigator.geolocation.getCurrentPosition(function (p) { done(p.coords); }, function () { done(null); },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }
  var form = document.getElementById("patrol-form");
  if (form) {
    locate(function (c) {
      if (!c) return;
      document.getElementById("device_lon").value = c.longitude.toFixed(7);
      document.getElementById("device_lat").value = c.latitude.toFixed(7);
    });
  }
  var button = document.getElementById("locate");
  if (button) {
    button.addEventListener("click", function () {
      var status = document.getElementById("near-status");
      var list = document.getElementById("near-list");
      status.textContent = "正在定位…";
      locate(function (c) {
        if (!c) { status.textContent = "无法获取位置，请输入宗地代码。"; return; }
        var d = 0.004;
        var bbox = [c.longitude - d, c.latitude - d, c.longitude + d, c.latitude + d].map(function (v) { return v.toFixed(6); });
        fetch("/api/parcels?limit=50&bbox=" + bbox.join(","), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (fc) {
            list.textContent = "";
            (fc.features || []).forEach(function (f) {
              var li = document.createElement("li");
              var a = document.createElement("a");
              a.href = "/patrol/" + f.properties.code;
              a.textContent = f.properties.code + "（" + (f.properties.area_mu || "") + " 亩）";
              li.appendChild(a);
              list.appendChild(li);
            });
            status.textContent = (fc.features || []).length ? "附近的宗地：" : "附近没有宗地，请输入宗地代码。";
          })
          .catch(function () { status.textContent = "查询失败，请输入宗地代码。"; });
      });
    });
  }
})();
