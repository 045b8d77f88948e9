-- CreateIndex
CREATE INDEX `tb_payment_event_time_end_idx` ON `tb_payment_event`(`time_end`);

-- CreateTable
CREATE TABLE `tb_reconciliation` (
    `bill_date` VARCHAR(8) NOT NULL,
    `status` ENUM('RUNNING', 'SUCCEEDED', 'FAILED') NOT NULL,
    `runs` INTEGER NOT NULL DEFAULT 0,
    `failure_reason` VARCHAR(1000) NULL,
    `bill_payments` INTEGER NOT NULL DEFAULT 0,
    `bill_payment_fee` BIGINT NOT NULL DEFAULT 0,
    `bill_refunds` INTEGER NOT NULL DEFAULT 0,
    `bill_refund_fee` BIGINT NOT NULL DEFAULT 0,
    `our_payments` INTEGER NOT NULL DEFAULT 0,
    `our_payment_fee` BIGINT NOT NULL DEFAULT 0,
    `our_refunds` INTEGER NOT NULL DEFAULT 0,
    `our_refund_fee` BIGINT NOT NULL DEFAULT 0,
    `started_at` DATETIME(3) NOT NULL,
    `finished_at` DATETIME(3) NULL,
    `updated_at` DATETIME(3) NOT NULL,

    PRIMARY KEY (`bill_date`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `tb_reconciliation_difference` (
    `id` BIGINT NOT NULL AUTO_INCREMENT,
    `bill_date` VARCHAR(8) NOT NULL,
    `kind` ENUM('MISSED_PAYMENT', 'PAID_AFTER_CLOSE', 'UNKNOWN_ORDER', 'NOT_PAID_AT_WECHAT', 'NOT_IN_BILL', 'AMOUNT_DIFFERS', 'REFUND_NOT_SUCCESS', 'UNKNOWN_REFUND', 'REFUND_NOT_IN_BILL') NOT NULL,
    `ref` VARCHAR(64) NOT NULL,
    `order_id` VARCHAR(32) NOT NULL,
    `bill_fee` INTEGER NULL,
    `our_fee` INTEGER NULL,
    `detail` VARCHAR(1000) NOT NULL,
    `action` ENUM('PENDING', 'PAYMENT_APPLIED', 'LATE_REFUND', 'REVIEW') NOT NULL DEFAULT 'PENDING',
    `outcome` VARCHAR(500) NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `updated_at` DATETIME(3) NOT NULL,

    UNIQUE INDEX `tb_reconciliation_difference_bill_date_kind_ref_key`(`bill_date`, `kind`, `ref`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `tb_reconciliation_difference` ADD CONSTRAINT `tb_reconciliation_difference_bill_date_fkey` FOREIGN KEY (`bill_date`) REFERENCES `tb_reconciliation`(`bill_date`) ON DELETE RESTRICT ON UPDATE CASCADE;
