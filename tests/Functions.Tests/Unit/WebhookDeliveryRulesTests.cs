using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Webhooks;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The retry schedule, the signature (checked against the standard's algorithm computed here), the body, and which events make deliveries.</summary>
public sealed class WebhookDeliveryRulesTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 2, 10, 11, 12, 345, TimeSpan.Zero);

    [Fact]
    public void TheDefaultSchedule_IsStandardWebhooks_EightAttemptsOverAboutADay()
    {
        var schedule = new WebhookRetrySchedule(new WebhookOptions().RetryDelays());

        Assert.Equal(8, schedule.MaxAttempts);
        Assert.Equal(
            new[] { TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10) },
            Enumerable.Range(1, 7).Select(a => schedule.DelayAfter(a)!.Value));
        Assert.Null(schedule.DelayAfter(8));
        Assert.Equal(TimeSpan.FromSeconds(5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000), TimeSpan.FromTicks(schedule.Delays.Sum(d => d.Ticks)));
    }

    [Fact]
    public void ACustomSchedule_GivesUpAfterItsLastDelay()
    {
        var schedule = new WebhookRetrySchedule(new WebhookOptions { RetryScheduleSeconds = " 1, 2 ,3" }.RetryDelays());
        Assert.Equal(4, schedule.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(3), schedule.DelayAfter(3));
        Assert.Null(schedule.DelayAfter(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => schedule.DelayAfter(0));
    }

    [Theory]
    [InlineData("5,300", true)]
    [InlineData("0", true)]
    [InlineData("", false)]
    [InlineData("5,,300", false)]
    [InlineData("5;300", false)]
    [InlineData("-5", false)]
    [InlineData("1.5", false)]
    [InlineData("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21", false)]
    public void TheScheduleSetting_IsValidated(string value, bool valid)
    {
        var options = new WebhookOptions { RetryScheduleSeconds = value };
        Assert.Equal(valid, Validator.TryValidateObject(options, new ValidationContext(options), null, validateAllProperties: true));
    }

    [Fact]
    public void TheSignature_IsHmacSha256OfIdTimestampAndBody_KeyedWithTheDecodedSecret()
    {
        var secret = WebhookIds.NewSecret();
        var message = WebhookMessage.For("run_0123456789abcdefghjkmnpqrs", Event(3, RunEventTypes.AwaitingInput, """{"request_id":"req_1","prompt":"Ship it? ✓ <b>&</b>"}"""));

        var headers = message.Headers(secret, At).ToDictionary(h => h.Key, h => h.Value);

        // The standard's algorithm, computed here without the package.
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var signed = $"{message.Id}.{At.ToUnixTimeSeconds()}.{message.Body}";
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(signed)));
        Assert.Equal(message.Id, headers["webhook-id"]);
        Assert.Equal(At.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), headers["webhook-timestamp"]);
        Assert.Equal(expected, headers["webhook-signature"]);

        // Another secret, body or timestamp gives another signature.
        Assert.NotEqual(expected, WebhookMessage.Sign(WebhookIds.NewSecret(), message.Id, At, message.Body));
        Assert.NotEqual(expected, WebhookMessage.Sign(secret, message.Id, At.AddSeconds(1), message.Body));
        Assert.NotEqual(expected, WebhookMessage.Sign(secret, message.Id, At, message.Body + " "));
    }

    [Fact]
    public void TheSignature_VerifiesWithTheStandardWebhooksPackage()
    {
        var secret = WebhookIds.NewSecret();
        var message = WebhookMessage.For("run_0123456789abcdefghjkmnpqrs", Event(9, RunEventTypes.Succeeded, """{"output":{"ok":true}}"""));
        var headers = new HeaderDictionary();
        foreach (var (name, value) in message.Headers(secret, DateTimeOffset.UtcNow))
        {
            headers[name] = value;
        }

        new StandardWebhook(secret).Verify(message.Body, headers);
        Assert.ThrowsAny<Exception>(() => new StandardWebhook(WebhookIds.NewSecret()).Verify(message.Body, headers));
    }

    [Fact]
    public void Secrets_AreWhsecWith32RandomBytes()
    {
        var secrets = Enumerable.Range(0, 100).Select(_ => WebhookIds.NewSecret()).ToList();
        Assert.All(secrets, s => Assert.Equal(32, Convert.FromBase64String(s["whsec_".Length..]).Length));
        Assert.Equal(100, secrets.Distinct().Count());
    }

    [Fact]
    public void TheBody_IsTheStandardEnvelope_WithTheEventExactlyAsTheStreamShowsIt()
    {
        var e = Event(4, RunEventTypes.Cancelled, """{"reason_code":"signal_timeout","note":"ü \u2028 </script>"}""");
        var message = WebhookMessage.For("run_0123456789abcdefghjkmnpqrs", e);

        using var body = JsonDocument.Parse(message.Body);
        var root = body.RootElement;
        Assert.Equal(["type", "timestamp", "data"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("run.cancelled", root.GetProperty("type").GetString());
        Assert.Equal("2026-12-02T10:11:12.345Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("run_0123456789abcdefghjkmnpqrs", root.GetProperty("data").GetProperty("run_id").GetString());
        Assert.Equal(ApiJson.Serialize(RunMapper.ToResource(e)), root.GetProperty("data").GetProperty("event").GetRawText());
        Assert.Equal("msg_0123456789abcdefghjkmnpqrs_4", message.Id);
    }

    [Fact]
    public void Deliveries_AreMadeForWebhookEventsAndSubscriptionsThatWantThem_Only()
    {
        var all = Subscription("wh_all", WebhookEvents.Supported);
        var cancels = Subscription("wh_cancels", [RunEventTypes.Cancelled]);
        var disabled = Subscription("wh_off", WebhookEvents.Supported) with { DisabledAt = At, DisabledReason = WebhookDisabledReasons.EndpointGone };
        RunEvent[] events =
        [
            Event(1, RunEventTypes.Created), Event(2, RunEventTypes.Started), Event(3, RunEventTypes.Progress), Event(4, RunEventTypes.AwaitingInput),
            Event(5, RunEventTypes.SignalReceived), Event(6, RunEventTypes.Succeeded),
        ];

        var deliveries = WebhookOutbox.Plan("t1", "run_x", events, [all, cancels, disabled], At);

        Assert.Equal(
            ["4 run.awaiting_input wh_all", "6 run.worker.succeeded wh_all"],
            deliveries.Select(d => $"{d.Seq} {d.EventType} {d.WebhookId}"));
        Assert.All(deliveries, d => Assert.Equal(WebhookIds.Message("run_x", d.Seq), d.MessageId));
        Assert.Empty(WebhookOutbox.Plan("t1", "run_x", events, [cancels], At));
        Assert.Equal(
            [RunEventTypes.AwaitingInput, RunEventTypes.InputReminder, RunEventTypes.InputExtended, RunEventTypes.Succeeded, RunEventTypes.Failed, RunEventTypes.Cancelled],
            WebhookEvents.Supported);
    }

    private static RunEvent Event(long seq, string type, string value = "{}") => new(seq, type, At, false, value);

    private static WebhookSubscription Subscription(string id, IReadOnlyList<string> events) =>
        new("t1", id, "https://93.184.215.14/hook", events, WebhookIds.NewSecret(), At);
}
