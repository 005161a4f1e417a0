using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Tests.Support;
using AgentRuns.Functions.Webhooks;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>
/// The webhook outbox's schedule (<see cref="WebhookOutboxIndex"/>) on real tables: a pass reads what is due, not what is pending;
/// each write keeps a delivery and its schedule row together through lost responses and racing dispatchers; rows of the previous
/// version are still delivered. The receivers are <see cref="RecordingWebhookTransport"/>.
/// </summary>
public sealed class WebhookOutboxTests(ITestOutputHelper output)
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";
    private const string AwaitingInput = "run.awaiting_input";

    [Fact]
    public async Task APass_ReadsTheDeliveriesThatAreDue_NotThoseScheduledHoursAhead()
    {
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        var urls = new[] { Url(), Url(), Url() };
        var hooks = new List<string>();
        foreach (var url in urls)
        {
            hooks.Add(await SubscribeAsync(api, url));
        }

        RowsReadByStorage reads = null!;
        var outbox = new WebhookOutboxIndex(await host.TablesWithOwnOutboxAsync(t => reads = new RowsReadByStorage(t)));
        var now = DateTimeOffset.UtcNow;

        // A broken receiver's backlog: 2,000 retries due in 2 to 10 hours. Then three deliveries due now.
        var later = Enumerable.Range(0, 2000).Select(i => new WebhookDelivery(
            api.TenantId, runId, seq, AwaitingInput, "wh_broken", $"msg_backlog_{i}", now, now.AddHours(2 + (i % 9)), 3));
        var due = hooks.Select(h => new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, h, WebhookIds.Message(runId, seq), now, now.AddSeconds(-1), 0));
        await outbox.AddAsync([.. later, .. due]);
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(host.Services, outbox);

        reads.Reset();
        var pass = await dispatcher.RunOnceAsync(CancellationToken.None);
        output.WriteLine($"A pass with 3 due and 2,000 pending: {reads}");
        var busy = (reads.Queries, reads.PointReads, reads.RowsRead);

        reads.Reset();
        var idle = await dispatcher.RunOnceAsync(CancellationToken.None);
        output.WriteLine($"A pass with 0 due and 2,000 pending: {reads}");

        Assert.Equal((3, 3), (pass.Looked, pass.Delivered));
        Assert.All(urls, u => Assert.Single(host.Receivers.ReceivedBy(u)));
        Assert.True(busy.RowsRead <= 3 * 2, $"the pass read {busy.RowsRead} rows for 3 due deliveries ({busy})");
        Assert.Equal(0, idle.Looked);
        Assert.Equal(0, reads.RowsRead);
        Assert.Equal(0, reads.PointReads);
        Assert.Equal(2000, (await outbox.DueAsync(now.AddHours(11), 5000)).Count);
    }

    [Fact]
    public async Task ADeliveryWhoseRowCannotBeRead_IsLeftForTheNextPass_AndTheOthersAreDelivered()
    {
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        var url = Url();
        var hook = await SubscribeAsync(api, url);
        var refused = $"msg_refused_{Guid.NewGuid():N}";
        var outage = new ScopedOutage();
        var outbox = new WebhookOutboxIndex(await host.TablesWithOwnOutboxAsync(_ => outage));
        var now = DateTimeOffset.UtcNow;
        await outbox.AddAsync(
        [
            new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, "wh_elsewhere", refused, now, now.AddSeconds(-2), 0),
            new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, hook, WebhookIds.Message(runId, seq), now, now.AddSeconds(-1), 0),
        ]);
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(host.Services, outbox);

        outage.Begin(refused); // storage fails for that one delivery's row only
        var pass = await dispatcher.RunOnceAsync(CancellationToken.None);
        outage.End(refused);

        Assert.True(outage.Refused > 0);
        Assert.Equal((1, 1), (pass.Looked, pass.Delivered));
        Assert.Single(host.Receivers.ReceivedBy(url));
        Assert.Contains(await outbox.DueAsync(DateTimeOffset.UtcNow, 10), d => d.MessageId == refused);
    }

    [Fact]
    public async Task RowsOfThePreviousVersion_AreDelivered_AndThenCostAPassOnlyWhenDue()
    {
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        var (nowUrl, olderFormUrl, laterUrl) = (Url(), Url(), Url());
        var (nowHook, olderFormHook, laterHook) = (await SubscribeAsync(api, nowUrl), await SubscribeAsync(api, olderFormUrl), await SubscribeAsync(api, laterUrl));
        RowsReadByStorage reads = null!;
        var tables = await host.TablesWithOwnOutboxAsync(t => reads = new RowsReadByStorage(t));
        var outbox = new WebhookOutboxIndex(tables);
        var now = DateTimeOffset.UtcNow;
        var message = WebhookIds.Message(runId, seq);

        // Rows as the previous version wrote them: key {message}|{webhook}|{type} (or, older, without the type), no schedule row.
        TableEntity Legacy(string key, string hook, DateTimeOffset next, int attempts) => new(WebhookOutboxIndex.Partition, key)
        {
            ["TenantId"] = api.TenantId, ["RunId"] = runId, ["Seq"] = seq, ["EventType"] = AwaitingInput, ["WebhookId"] = hook,
            ["MessageId"] = message, ["CreatedAt"] = now.AddMinutes(-10), ["NextAttemptAt"] = next, ["Attempts"] = attempts,
        };
        var plain = host.Tables.Service.GetTableClient(tables.WebhookOutbox.Name);
        await plain.AddEntityAsync(Legacy($"{message}|{nowHook}|{AwaitingInput}", nowHook, now.AddMinutes(-1), 2));
        await plain.AddEntityAsync(Legacy($"{message}|{olderFormHook}", olderFormHook, now.AddMinutes(-1), 1));
        await plain.AddEntityAsync(Legacy($"{message}|{laterHook}|{AwaitingInput}", laterHook, now.AddHours(3), 4));
        foreach (var chunk in Enumerable.Range(0, 300).Chunk(100))
        {
            await plain.SubmitTransactionAsync(chunk.Select(i => new TableTransactionAction(
                TableTransactionActionType.Add, Legacy($"msg_backlog_{i:D3}|wh_broken|{AwaitingInput}", "wh_broken", now.AddHours(10), 5))));
        }

        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(host.Services, outbox);
        var first = await dispatcher.RunOnceAsync(CancellationToken.None);

        Assert.Equal((2, 2), (first.Looked, first.Delivered));
        Assert.Single(host.Receivers.ReceivedBy(nowUrl));
        Assert.Single(host.Receivers.ReceivedBy(olderFormUrl));
        Assert.Empty(host.Receivers.ReceivedBy(laterUrl));
        Assert.All(host.Receivers.ReceivedBy(nowUrl).Concat(host.Receivers.ReceivedBy(olderFormUrl)), r => Assert.Equal(message, r.Headers["webhook-id"]));

        // Three hours on, the one due then is delivered, and the pass reads it, not the 300 still pending.
        var later = ActivatorUtilities.CreateInstance<WebhookDispatcher>(host.Services, outbox, (TimeProvider)new RunsTestHost.ShiftedTime(TimeSpan.FromHours(3.1)));
        reads.Reset();
        var second = await later.RunOnceAsync(CancellationToken.None);
        output.WriteLine($"Three hours on, 1 due and 300 pending: {reads}");

        Assert.Equal((1, 1), (second.Looked, second.Delivered));
        Assert.Single(host.Receivers.ReceivedBy(laterUrl));
        Assert.True(reads.RowsRead <= 2, $"the pass read {reads.RowsRead} rows for 1 due delivery ({reads})");
        var attempts = (await api.GetAsync($"/v1/webhooks/{laterHook}/deliveries")).Json.GetProperty("data");
        Assert.Equal(5, attempts[0].GetProperty("attempt").GetInt32()); // the previous version's 4 attempts carried over
    }

    [Fact]
    public async Task ADeliveryThePreviousVersionRescheduled_IsDueAtItsNewTime_AndDeliveredThen()
    {
        // While two versions serve (a deployment, a rollback), the previous one takes a due delivery of this one by scanning and
        // writes it back whole after a failed attempt: due later, without this version's schedule.
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        var url = Url();
        var hook = await SubscribeAsync(api, url);
        var tables = await host.TablesWithOwnOutboxAsync();
        var outbox = new WebhookOutboxIndex(tables);
        var now = DateTimeOffset.UtcNow;
        var delivery = new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, hook, WebhookIds.Message(runId, seq), now, now, 0);
        await outbox.AddAsync([delivery]);
        await tables.WebhookOutbox.UpdateEntityAsync(
            new TableEntity(WebhookOutboxIndex.Partition, delivery.Key)
            {
                ["TenantId"] = api.TenantId, ["RunId"] = runId, ["Seq"] = seq, ["EventType"] = AwaitingInput, ["WebhookId"] = hook,
                ["MessageId"] = delivery.MessageId, ["CreatedAt"] = now, ["NextAttemptAt"] = now.AddHours(2), ["Attempts"] = 1,
            },
            Azure.ETag.All,
            TableUpdateMode.Replace);

        var soon = await ActivatorUtilities.CreateInstance<WebhookDispatcher>(
            host.Services, outbox, (TimeProvider)new RunsTestHost.ShiftedTime(TimeSpan.FromSeconds(1))).RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, soon.Looked);
        Assert.Equal([now.AddHours(2).UtcTicks], await ScheduleOfAsync(tables.WebhookOutbox, delivery.Key));
        var then = await ActivatorUtilities.CreateInstance<WebhookDispatcher>(
            host.Services, outbox, (TimeProvider)new RunsTestHost.ShiftedTime(TimeSpan.FromHours(2.1))).RunOnceAsync(CancellationToken.None);
        Assert.Equal((1, 1), (then.Looked, then.Delivered));
        Assert.Single(host.Receivers.ReceivedBy(url));
        Assert.Empty(await ScheduleOfAsync(tables.WebhookOutbox, delivery.Key));
    }

    [Fact]
    public async Task AnOutboxWrite_WhoseResponseWasLost_IsScheduledOnce()
    {
        var host = await RunsTestHost.GetAsync();
        var loss = new LoseResponse(host.TablePrefix + "HookOut");
        var outbox = new WebhookOutboxIndex(host.TablesWith(loss));
        var now = DateTimeOffset.UtcNow;
        var delivery = new WebhookDelivery("tenant-" + Guid.NewGuid().ToString("N")[..12], "run_x", 3, AwaitingInput, "wh_x", "msg_" + Guid.NewGuid().ToString("N"), now, now, 0);
        loss.LoseNext(HttpMethod: "POST");

        await outbox.AddAsync([delivery]);

        Assert.Equal(1, loss.Lost);
        Assert.Equal([now.UtcTicks], await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
        Assert.Single(await host.WebhookOutbox.DueAsync(now.AddSeconds(1), 1000), d => d.Key == delivery.Key);
        await host.WebhookOutbox.RemoveAsync(Assert.Single(await host.WebhookOutbox.PendingAsync(delivery.TenantId)));
        Assert.Empty(await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
    }

    [Fact]
    public async Task AClaim_WhoseWriteLandedButWhoseResponseWasLost_IsStillTheClaimersAttempt()
    {
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        var url = Url();
        var hook = await SubscribeAsync(api, url);
        var now = DateTimeOffset.UtcNow;
        var delivery = new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, hook, WebhookIds.Message(runId, seq), now, now, 0);
        await host.WebhookOutbox.AddAsync([delivery]);
        var loss = new LoseResponse(host.TablePrefix + "HookOut");
        var dispatcher = ActivatorUtilities.CreateInstance<WebhookDispatcher>(host.Services, new WebhookOutboxIndex(host.TablesWith(loss)));
        var due = (await host.WebhookOutbox.GetAsync(delivery.Key))!;
        loss.LoseNext(HttpMethod: "POST");

        var verdict = await dispatcher.AttemptAsync(due, CancellationToken.None);

        Assert.Equal(1, loss.Lost);
        Assert.Equal(WebhookVerdict.Delivered, verdict);
        Assert.Single(host.Receivers.ReceivedBy(url));
        Assert.Empty(await host.WebhookOutbox.PendingAsync(api.TenantId));
        Assert.Empty(await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
    }

    [Fact]
    public async Task AReschedule_WhoseWriteLandedButWhoseResponseWasLost_ReportsItAndMovesTheSchedule()
    {
        var host = await RunsTestHost.GetAsync();
        var loss = new LoseResponse(host.TablePrefix + "HookOut");
        var outbox = new WebhookOutboxIndex(host.TablesWith(loss));
        var now = DateTimeOffset.UtcNow;
        var delivery = new WebhookDelivery("tenant-" + Guid.NewGuid().ToString("N")[..12], "run_x", 3, AwaitingInput, "wh_x", "msg_" + Guid.NewGuid().ToString("N"), now, now, 0);
        await outbox.AddAsync([delivery]);
        var claimed = (await outbox.ClaimAsync((await outbox.GetAsync(delivery.Key))!, now.AddMinutes(1)))!;
        var next = now.AddHours(2);
        loss.LoseNext(HttpMethod: "POST");

        var rescheduled = await outbox.RescheduleAsync(claimed, next, 1);

        Assert.Equal(1, loss.Lost);
        Assert.True(rescheduled, "the reschedule landed, yet it answered as if the delivery had changed meanwhile");
        Assert.Equal([next.UtcTicks], await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
        Assert.DoesNotContain(await host.WebhookOutbox.DueAsync(now.AddHours(1), 1000), d => d.Key == delivery.Key);
        var due = Assert.Single(await host.WebhookOutbox.DueAsync(next, 1000), d => d.Key == delivery.Key);
        Assert.Equal(1, due.Attempts);
        await host.WebhookOutbox.RemoveAsync(due);
        Assert.Empty(await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
    }

    [Fact]
    public async Task AClaim_OfADeliveryWhoseScheduleRowIsGone_TakesIt_AndSchedulesItsLease()
    {
        // A batch that deletes a row that is not there fails whole (404): the claim must not take that for another claimer.
        var host = await RunsTestHost.GetAsync();
        var now = DateTimeOffset.UtcNow;
        var delivery = new WebhookDelivery("tenant-" + Guid.NewGuid().ToString("N")[..12], "run_x", 3, AwaitingInput, "wh_x", "msg_" + Guid.NewGuid().ToString("N"), now, now, 0);
        await host.WebhookOutbox.AddAsync([delivery]);
        await host.Tables.WebhookOutbox.DeleteEntityAsync(WebhookOutboxIndex.Partition, WebhookOutboxIndex.ScheduleKeyFor(now.UtcTicks, delivery.Key));
        var lease = now.AddMinutes(1);

        var claimed = await host.WebhookOutbox.ClaimAsync((await host.WebhookOutbox.GetAsync(delivery.Key))!, lease);

        Assert.NotNull(claimed);
        Assert.Equal([lease.UtcTicks], await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
        await host.WebhookOutbox.RemoveAsync(claimed);
        Assert.Null(await host.WebhookOutbox.GetAsync(delivery.Key));
        Assert.Empty(await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
    }

    [Fact]
    public async Task TwoDispatchers_ClaimingOneDelivery_AttemptItOnce_AndLeaveOneSchedule()
    {
        var host = await RunsTestHost.GetAsync();
        var (api, runId, seq) = await RunAwaitingInputAsync(host);
        for (var trial = 0; trial < 5; trial++)
        {
            var url = Url();
            var release = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            host.Receivers.Answer(url, _ => release.Task);
            var hook = await SubscribeAsync(api, url);
            var now = DateTimeOffset.UtcNow;
            var delivery = new WebhookDelivery(api.TenantId, runId, seq, AwaitingInput, hook, WebhookIds.Message(runId, seq), now, now, 0);
            await host.WebhookOutbox.AddAsync([delivery]);

            // Both read it due (the same ETag), then both try to take it at once.
            var due = (await host.WebhookOutbox.GetAsync(delivery.Key))!;
            var (a, b) = (host.WebhookDispatcher(), host.WebhookDispatcher());
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var attempts = new[] { a, b }.Select(d => Task.Run(async () => { await start.Task; return await d.AttemptAsync(due, CancellationToken.None); })).ToArray();
            start.SetResult();

            // One holds it (its receiver has not answered yet); the other has given up on it.
            await Eventually.GetAsync(() => Task.FromResult(host.Receivers.ReceivedBy(url).Count), n => n >= 1, what: "the winner's attempt");
            var loser = await Task.WhenAny(attempts).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(WebhookVerdict.Skipped, await loser);
            var held = Assert.Single(await host.WebhookOutbox.PendingAsync(api.TenantId), d => d.Key == delivery.Key);
            Assert.Equal([held.NextAttemptAt.UtcTicks], await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));

            release.SetResult(200);
            var verdicts = await Task.WhenAll(attempts).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([WebhookVerdict.Delivered, WebhookVerdict.Skipped], verdicts.Order());
            Assert.Single(host.Receivers.ReceivedBy(url));
            Assert.DoesNotContain(await host.WebhookOutbox.PendingAsync(api.TenantId), d => d.Key == delivery.Key);
            Assert.Empty(await ScheduleOfAsync(host.Tables.WebhookOutbox, delivery.Key));
        }
    }

    /// <summary>The due times (UTC ticks) of the schedule rows that point at the delivery with key <paramref name="key"/>.</summary>
    private static async Task<List<long>> ScheduleOfAsync(TableClient outbox, string key)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {WebhookOutboxIndex.Partition} and RowKey ge {WebhookOutboxIndex.SchedulePrefix} and RowKey lt {"t}"}");
        var ticks = new List<long>();
        await foreach (var e in outbox.QueryAsync<TableEntity>(filter, select: ["RowKey"]))
        {
            if (e.RowKey.EndsWith("|" + key, StringComparison.Ordinal))
            {
                ticks.Add(long.Parse(e.RowKey.AsSpan(2, 19), System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return ticks;
    }

    /// <summary>A new tenant's run waiting for input, made before any subscription (so it made no deliveries): its awaiting seq.</summary>
    private static async Task<(ApiClient Api, string RunId, long Seq)> RunAwaitingInputAsync(RunsTestHost host)
    {
        var api = await host.NewTenantAsync();
        var runId = await api.CreateRunAsync(Plan(Approval));
        var awaiting = await api.WaitForEventAsync(runId, AwaitingInput);
        return (api, runId, awaiting.GetProperty("seq").GetInt64());
    }

    private static async Task<string> SubscribeAsync(ApiClient api, string url)
    {
        var response = await api.PostAsync("/v1/webhooks", $$"""{"url":"{{url}}","events":["{{AwaitingInput}}"]}""");
        Assert.True(response.Status == 201, response.ToString());
        return response.Json.GetProperty("id").GetString()!;
    }

    private static string Url() => $"https://93.184.215.14/hooks/{Guid.NewGuid():N}";
}
